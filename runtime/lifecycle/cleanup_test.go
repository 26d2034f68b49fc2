package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/hostabi"
	clocktesting "k8s.io/utils/clock/testing"
)

// waiting is a run whose attempt started at start (the timeout is 1m)
// and whose last call answered Running, with spec lines added.
func waiting(start, spec string) string {
	return header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 1m` + spec + `
status:
  startTime: "` + start + `"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Waiting, message: build 7 runs, lastTransitionTime: "2026-11-29T09:59:50Z"}
  extraFields: {build: 7}`
}

// cancelledAt is the run of waiting(09:59:30, cancelled), ended as
// cancelled at 10:00:sec.
func cancelledAt(sec string) string {
	return header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  status: RunCancelled
  timeout: 1m0s
status:
  startTime: "2026-11-29T09:59:30Z"
  completionTime: "2026-11-29T10:00:` + sec + `"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunCancelled, message: CustomRun "r" was cancelled, lastTransitionTime: "2026-11-29T10:00:` + sec + `"}
  extraFields: {build: 7}`
}

// timedOutAt is the run of waiting(start, spec) without retries, timed
// out at 10:00:sec.
func timedOutAt(spec, start, sec string) string {
	return header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""` + spec + `
  timeout: 1m0s
status:
  startTime: "` + start + `"
  completionTime: "2026-11-29T10:00:` + sec + `"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunTimedOut, lastTransitionTime: "2026-11-29T10:00:` + sec + `",
     message: CustomRun "r" timed out after 1m0s (attempt 1 of 1)}
  extraFields: {build: 7}`
}

// A cancellation or a timeout after a Running answer makes one clean-up
// call, bounded by the grace period, whose answer changes nothing.
func TestCleanup(t *testing.T) {
	cancelled := waiting("2026-11-29T09:59:30Z", "\n  status: RunCancelled")
	timedOut := waiting("2026-11-29T09:59:00Z", "\n  retries: 1")
	lastTimedOut := waiting("2026-11-29T09:59:00Z", "")
	ok := &Outcome{Response: resp(`{"status":"Succeeded","reason":"CleanedUp","results":[{"name":"a","value":"b"}],"extraFields":{"x":1}}`)}
	for _, tc := range []struct {
		name    string
		in      string
		grace   time.Duration
		first   Known // the Step that decides the clean-up
		cleanup Action
		after   time.Duration // the clock moves on
		out     *Outcome      // the clean-up call's outcome
		next    Action
		want    string
	}{{
		name:    "cancelled: the answer is ignored, the run ends CustomRunCancelled",
		in:      cancelled,
		cleanup: Action{Kind: Cleanup, Attempt: 1, Deadline: now.Add(DefaultCleanupGrace), Cleanup: hostabi.CleanupCancelled},
		after:   3 * time.Second,
		out:     ok,
		next:    Action{Kind: Done},
		want:    cancelledAt("03Z"),
	}, {
		name:    "while the clean-up call runs within its grace period: Await it",
		in:      cancelled,
		grace:   5 * time.Second,
		cleanup: Action{Kind: Cleanup, Attempt: 1, Deadline: now.Add(5 * time.Second), Cleanup: hostabi.CleanupCancelled},
		after:   4 * time.Second,
		next:    Action{Kind: Await, Attempt: 1, Deadline: now.Add(5 * time.Second), Cleanup: hostabi.CleanupCancelled},
		want:    cancelled,
	}, {
		name:    "the grace period passed without an outcome: the run ends",
		in:      cancelled,
		grace:   5 * time.Second,
		cleanup: Action{Kind: Cleanup, Attempt: 1, Deadline: now.Add(5 * time.Second), Cleanup: hostabi.CleanupCancelled},
		after:   5 * time.Second,
		next:    Action{Kind: Done},
		want:    cancelledAt("05Z"),
	}, {
		name:    "timed out with retries left: the next attempt starts after the clean-up",
		in:      timedOut,
		cleanup: Action{Kind: Cleanup, Attempt: 1, Deadline: now.Add(DefaultCleanupGrace), Cleanup: hostabi.CleanupTimedOut},
		after:   2 * time.Second,
		out:     &Outcome{Response: resp(`{"status":"Failed","reason":"NotCleaned"}`)},
		next:    Action{Kind: Invoke, Attempt: 2, Deadline: now.Add(2*time.Second + time.Minute)},
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  timeout: 1m0s
  retries: 1
status:
  startTime: "2026-11-29T10:00:02Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Retrying, lastTransitionTime: "2026-11-29T10:00:02Z",
     message: Attempt 1 of 2 failed (CustomRunTimedOut); starting attempt 2}
  retriesStatus:
  - startTime: "2026-11-29T09:59:00Z"
    completionTime: "2026-11-29T10:00:02Z"
    conditions:
    - {type: Succeeded, status: "False", reason: CustomRunTimedOut, lastTransitionTime: "2026-11-29T10:00:02Z",
       message: CustomRun "r" timed out after 1m0s (attempt 1 of 2)}
    extraFields: {build: 7}`,
	}, {
		name:    "timed out, last attempt, the clean-up call hung and was stopped: CustomRunTimedOut",
		in:      lastTimedOut,
		cleanup: Action{Kind: Cleanup, Attempt: 1, Deadline: now.Add(DefaultCleanupGrace), Cleanup: hostabi.CleanupTimedOut},
		after:   DefaultCleanupGrace,
		out:     &Outcome{Err: context.DeadlineExceeded},
		next:    Action{Kind: Done},
		want:    timedOutAt("", "2026-11-29T09:59:00Z", "10Z"),
	}, {
		name: "the host stopped a call at the deadline after a Running answer: clean-up",
		in:   waiting("2026-11-29T09:59:30Z", ""),
		first: Known{Last: Action{Kind: Invoke, Attempt: 1, Deadline: now.Add(30 * time.Second)},
			Outcome: &Outcome{Err: context.DeadlineExceeded}},
		cleanup: Action{Kind: Cleanup, Attempt: 1, Deadline: now.Add(DefaultCleanupGrace), Cleanup: hostabi.CleanupTimedOut},
		out:     &Outcome{Err: context.Canceled},
		next:    Action{Kind: Done},
		want:    timedOutAt("", "2026-11-29T09:59:30Z", "00Z"),
	}, {
		name: "cancelled during a timed-out attempt's clean-up: no second clean-up, the attempt ends TimedOut",
		in:   waiting("2026-11-29T09:59:00Z", "\n  status: RunCancelled"),
		first: Known{Last: Action{Kind: Cleanup, Attempt: 1, Deadline: now.Add(time.Second), Cleanup: hostabi.CleanupTimedOut},
			Outcome: ok},
		next: Action{Kind: Done},
		want: timedOutAt("\n  status: RunCancelled", "2026-11-29T09:59:00Z", "00Z"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clocktesting.NewFakeClock(now)
			m := &Machine{Clock: clock, CleanupGrace: tc.grace}
			run := parse(t, tc.in)
			act := m.Step(run, tc.first)
			if tc.cleanup.Kind == Cleanup {
				if d := cmp.Diff(tc.cleanup, act); d != "" {
					t.Fatalf("first action (-want +got):\n%s", d)
				}
				diffRuns(t, run, tc.in) // deciding the clean-up changes nothing
				clock.Step(tc.after)
				act = m.Step(run, Known{Last: act, Outcome: tc.out})
			}
			if d := cmp.Diff(tc.next, act); d != "" {
				t.Errorf("next action (-want +got):\n%s", d)
			}
			diffRuns(t, run, tc.want)
		})
	}
}

// After a restart the clean-up in flight is forgotten: the debt is read
// from the stored status, so the call is made again, with a new grace
// period (at least once).
func TestCleanupAfterRestart(t *testing.T) {
	clock := clocktesting.NewFakeClock(now)
	m := &Machine{Clock: clock}
	run := parse(t, waiting("2026-11-29T09:59:30Z", "\n  status: RunCancelled"))
	first := m.Step(run, Known{})
	clock.Step(time.Second)
	again := m.Step(run, Known{})
	want := Action{Kind: Cleanup, Attempt: 1, Deadline: now.Add(time.Second + DefaultCleanupGrace), Cleanup: hostabi.CleanupCancelled}
	if first.Kind != Cleanup || cmp.Diff(want, again) != "" {
		t.Errorf("after a restart: %+v then %+v, want a Cleanup then %+v", first, again, want)
	}
}

// The clean-up call's request is marked with why, carries the
// extraFields of the last Running answer and ends with the grace period.
func TestCleanupRequest(t *testing.T) {
	m := &Machine{Clock: clocktesting.NewFakePassiveClock(now)}
	run := parse(t, waiting("2026-11-29T09:59:30Z", "\n  status: RunCancelled"))
	got := requestJSON(t, m, run, m.Step(run, Known{}), Inputs{})
	want := `{"abiVersion":"tekton-wasm/v1","run":{"name":"r","namespace":"ns","uid":"u1"},"apiVersion":"example.dev/v1","kind":"Example",` +
		`"attempt":1,"retries":0,"startTime":"2026-11-29T09:59:30Z","deadline":"2026-11-29T10:00:10Z","extraFields":{"build":7},` +
		`"cleanup":{"reason":"Cancelled"}}`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
}
