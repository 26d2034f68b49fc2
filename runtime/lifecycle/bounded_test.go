package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/alloctest"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"knative.dev/pkg/apis"
)

// tickingClock advances by a microsecond at every reading, as a real clock
// does between two readings: a 1ns timeout has passed by the next one.
type tickingClock struct{ t time.Time }

func (c *tickingClock) Now() time.Time                  { c.t = c.t.Add(time.Microsecond); return c.t }
func (c *tickingClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func retryingRun(t *testing.T, retries int) *v1beta1.CustomRun {
	return parse(t, fmt.Sprintf(header+`
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 1ns
  retries: %d`, retries))
}

// A million retries with a 1ns timeout used to recurse once per retry,
// deep-copying the status at each level, until the stack overflowed (a
// fatal error that killed the controller before it wrote anything). Such a
// run now ends at once, cheaply, saying what the most is and why.
func TestAbsurdRetriesEndAtOnce(t *testing.T) {
	m := &Machine{Clock: &tickingClock{t: now}}
	// Started, as by a controller without the check: its first attempt
	// has timed out.
	run := parse(t, header+`
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 1ns
  retries: 1000000
status:
  startTime: "2026-11-29T09:59:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T09:59:00Z"}`)
	var act Action
	alloc := alloctest.Bytes(func() { act = m.Step(run, Known{}) })
	if act.Kind != Done {
		t.Fatalf("action = %v; want Done", act.Kind)
	}
	if alloc > 1<<20 {
		t.Errorf("Step allocated %d bytes; want less than 1 MiB", alloc)
	}
	c := run.Status.GetCondition(apis.ConditionSucceeded)
	want := fmt.Sprintf("spec.retries 1000000 is more than %d, the most a CustomRun can record: each failed attempt adds at least 128 bytes "+
		"to status.retriesStatus and the apiserver stores objects of at most 1572864 bytes; ask for at most %d retries", MaxRetries, MaxRetries)
	if c.Reason != ReasonValidationFailed || c.Message != want || len(run.Status.RetriesStatus) != 0 {
		t.Errorf("condition %s: %s, %d retries archived; want %s: %s", c.Reason, c.Message, len(run.Status.RetriesStatus), ReasonValidationFailed, want)
	}
}

func TestRetriesBounds(t *testing.T) {
	for retries, wantValid := range map[int]bool{-1: false, 0: true, MaxRetries: true, MaxRetries + 1: false} {
		m := &Machine{Clock: &tickingClock{t: now}}
		run := retryingRun(t, retries)
		m.Step(run, Known{})
		c := run.Status.GetCondition(apis.ConditionSucceeded)
		if valid := c.Reason != ReasonValidationFailed; valid != wantValid {
			t.Errorf("retries %d: condition %s: %s; want valid = %v", retries, c.Reason, c.Message, wantValid)
		}
	}
}

// With a 1ns timeout every attempt has timed out by the next call. Each
// call must still end at most one attempt and hand control back: the old
// machine ended them all in one call. The whole run allocates in
// proportion to its attempts, not to their square.
func TestOneAttemptPerCall(t *testing.T) {
	m := &Machine{Clock: &tickingClock{t: now}}
	run := retryingRun(t, MaxRetries)
	calls := 0
	alloc := alloctest.Bytes(func() {
		act := m.Step(run, Known{})
		for act.Kind != Done {
			if calls++; calls > 2*(MaxRetries+1) {
				t.Fatalf("still not done after %d calls", calls)
			}
			before := len(run.Status.RetriesStatus)
			// Alternate the two ways an attempt times out: found by Step,
			// and reported by the invocation.
			if calls%2 == 0 {
				act = m.Step(run, Known{})
			} else {
				act = m.Step(run, Known{Last: act, Outcome: &Outcome{Err: context.DeadlineExceeded}})
			}
			if n := len(run.Status.RetriesStatus) - before; n > 1 {
				t.Fatalf("call %d archived %d attempts; want at most 1", calls, n)
			}
			if act.Kind == Invoke && act.Attempt != len(run.Status.RetriesStatus)+1 {
				t.Fatalf("call %d: Invoke attempt %d with %d archived", calls, act.Attempt, len(run.Status.RetriesStatus))
			}
		}
	})
	c := run.Status.GetCondition(apis.ConditionSucceeded)
	if c.Reason != ReasonTimedOut || len(run.Status.RetriesStatus) != MaxRetries {
		t.Errorf("ended %s with %d attempts archived; want %s with %d", c.Reason, len(run.Status.RetriesStatus), ReasonTimedOut, MaxRetries)
	}
	if alloc > 256<<20 {
		t.Errorf("the run allocated %d MiB; want less than 256 MiB", alloc>>20)
	}
}

// MaxRetries rests on MinRetryStatusBytes being less than the smallest
// retriesStatus entry the machine writes.
func TestMinRetryStatusBytes(t *testing.T) {
	m := &Machine{Clock: &tickingClock{t: now}}
	run := retryingRun(t, 1)
	run.Spec.Timeout = nil
	act := m.Step(run, Known{})
	m.Step(run, Known{Last: act, Outcome: &Outcome{Response: &hostabi.Response{Status: hostabi.StatusFailed, Reason: "A"}}})
	b, err := json.Marshal(run.Status.RetriesStatus[0])
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `,"extraFields":null`, "", 1))
	if len(b) < MinRetryStatusBytes {
		t.Errorf("the smallest retriesStatus entry is %d bytes, less than MinRetryStatusBytes (%d): %s", len(b), MinRetryStatusBytes, b)
	}
}
