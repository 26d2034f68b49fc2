package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestActionDue(t *testing.T) {
	wait := Action{Kind: Wait, Attempt: 1, At: now}
	for _, tc := range []struct {
		act  Action
		at   time.Time
		want bool
	}{
		{wait, now.Add(-time.Nanosecond), false},
		{wait, now, true},
		{wait, now.Add(time.Second), true},
		{Action{Kind: Invoke, Attempt: 1}, now.Add(-time.Hour), true},
		{Action{Kind: Await, Attempt: 1}, now.Add(-time.Hour), true},
		{Action{Kind: Done}, now.Add(-time.Hour), true},
	} {
		if got := tc.act.Due(tc.at); got != tc.want {
			t.Errorf("%+v.Due(%s) = %v, want %v", tc.act, tc.at, got, tc.want)
		}
	}
}

func TestActionWaitUntil(t *testing.T) {
	invoke := Action{Kind: Invoke, Attempt: 2, Deadline: now.Add(time.Minute)}
	if got, want := invoke.WaitUntil(now.Add(time.Second)), (Action{Kind: Wait, Attempt: 2, Deadline: now.Add(time.Minute), At: now.Add(time.Second)}); got != want {
		t.Errorf("WaitUntil before the deadline = %+v, want %+v", got, want)
	}
	if got := invoke.WaitUntil(now.Add(time.Hour)); got.At != invoke.Deadline {
		t.Errorf("WaitUntil after the deadline waits until %s, want the deadline %s", got.At, invoke.Deadline)
	}
	if got := (Action{Kind: Invoke, Attempt: 1}).WaitUntil(now.Add(time.Hour)); got.At != now.Add(time.Hour) {
		t.Errorf("WaitUntil without a deadline waits until %s, want %s", got.At, now.Add(time.Hour))
	}
}

// Step with what the caller knows beside an outcome: the invocation in
// flight, the Wait it keeps, a failure that keeps it from calling.
func TestStepKnown(t *testing.T) {
	attempt1 := Action{Kind: Invoke, Attempt: 1, Deadline: now.Add(30 * time.Second)}
	unavailable := &Failure{Reason: "PluginUnavailable", Message: "broken"}
	const failed = `
status:
  startTime: "2026-11-29T09:59:30Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: PluginUnavailable, message: broken, lastTransitionTime: "2026-11-29T10:00:00Z"}`
	const unchanged = `
status:
  startTime: "2026-11-29T09:59:30Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T09:59:30Z"}`
	// An attempt with a 500ms timeout that started at 09:59:59.8 (its
	// deadline 10:00:00.3), read back from the apiserver: startTime in
	// whole seconds, so startTime + timeout (09:59:59.5) has passed.
	shortAttempt := Action{Kind: Invoke, Attempt: 1, Deadline: now.Add(300 * time.Millisecond)}
	const shortSpec = header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  timeout: 500ms`
	const shortTimedOut = shortSpec + `
status:
  startTime: "2026-11-29T09:59:59Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunTimedOut, message: CustomRun "r" timed out after 500ms (attempt 1 of 1), lastTransitionTime: "2026-11-29T10:00:00Z"}`
	shortRun := func(reason, changed string) string {
		return shortSpec + `
status:
  startTime: "2026-11-29T09:59:59Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: ` + reason + `, lastTransitionTime: "2026-11-29T` + changed + `Z"}`
	}
	for _, tc := range []struct {
		name  string
		in    string // the run
		known Known
		want  string // the run after
		next  Action
	}{{
		name: "invocation in flight: await it",
		in:   running, known: Known{Last: attempt1},
		want: runningSpec + unchanged,
		next: Action{Kind: Await, Attempt: 1, Deadline: now.Add(30 * time.Second)},
	}, {
		name: "invocation in flight, the plugin broke meanwhile: await it all the same",
		in:   running, known: Known{Last: attempt1, Failure: unavailable},
		want: runningSpec + unchanged,
		next: Action{Kind: Await, Attempt: 1, Deadline: now.Add(30 * time.Second)},
	}, {
		name: "invocation in flight past the deadline: timed out",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 30s
status:
  startTime: "2026-11-29T09:59:30Z"`,
		known: Known{Last: Action{Kind: Invoke, Attempt: 1, Deadline: now}},
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  timeout: 30s
status:
  startTime: "2026-11-29T09:59:30Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunTimedOut, message: CustomRun "r" timed out after 30s (attempt 1 of 1), lastTransitionTime: "2026-11-29T10:00:00Z"}`,
		next: Action{Kind: Done},
	}, {
		name: "wait not due: the same wait",
		in:   running, known: Known{Last: attempt1.WaitUntil(now.Add(time.Second)), Failure: unavailable},
		want: runningSpec + unchanged,
		next: Action{Kind: Wait, Attempt: 1, Deadline: now.Add(30 * time.Second), At: now.Add(time.Second)},
	}, {
		name: "wait due: call",
		in:   running, known: Known{Last: attempt1.WaitUntil(now)},
		want: runningSpec + unchanged,
		next: attempt1,
	}, {
		name: "wait due, the plugin broke: failed without a retry",
		in:   running, known: Known{Last: attempt1.WaitUntil(now), Failure: unavailable},
		want: runningSpec + failed,
		next: Action{Kind: Done},
	}, {
		name: "a call due, the plugin broke: failed without a retry",
		in:   running, known: Known{Failure: unavailable},
		want: runningSpec + failed,
		next: Action{Kind: Done},
	}, {
		name: "the invocation could not run: failed without a retry",
		in:   running, known: Known{Last: attempt1, Outcome: &Outcome{Err: unavailable}},
		want: runningSpec + failed,
		next: Action{Kind: Done},
	}, {
		name: "interrupted before it ran: the attempt is called again",
		in:   running, known: Known{Last: attempt1, Outcome: &Outcome{Err: context.Canceled}},
		want: runningSpec + unchanged,
		next: attempt1,
	}, {
		name: "attempt failed, the next one cannot be called: failed with the attempt archived",
		in:   running, known: Known{Last: attempt1, Outcome: &Outcome{Response: resp(`{"status":"Failed","reason":"Boom"}`)}, Failure: unavailable},
		want: runningSpec + `
status:
  startTime: "2026-11-29T10:00:00Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: PluginUnavailable, message: broken, lastTransitionTime: "2026-11-29T10:00:00Z"}
  retriesStatus:
  - startTime: "2026-11-29T09:59:30Z"
    completionTime: "2026-11-29T10:00:00Z"
    conditions:
    - {type: Succeeded, status: "False", reason: Boom, lastTransitionTime: "2026-11-29T10:00:00Z"}`,
		next: Action{Kind: Done},
	}, {
		name: "running answered, the plugin broke: the wait stands",
		in:   running, known: Known{Last: attempt1, Outcome: &Outcome{Response: resp(`{"status":"Running","requeueAfter":"5s"}`)}, Failure: unavailable},
		want: runningSpec + `
status:
  startTime: "2026-11-29T09:59:30Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Running, lastTransitionTime: "2026-11-29T10:00:00Z"}`,
		next: Action{Kind: Wait, Attempt: 1, Deadline: now.Add(30 * time.Second), At: now.Add(5 * time.Second)},
	}, {
		name: "stored startTime in whole seconds: the attempt's own deadline stands for its outcome",
		in:   shortRun("Started", "09:59:59"), known: Known{Last: shortAttempt, Outcome: &Outcome{Response: resp(`{"status":"Running","requeueAfter":"0.1s"}`)}},
		want: shortRun("Running", "10:00:00"),
		next: Action{Kind: Wait, Attempt: 1, Deadline: now.Add(300 * time.Millisecond), At: now.Add(100 * time.Millisecond)},
	}, {
		name: "stored startTime in whole seconds: the attempt's own deadline stands for its next call",
		in:   shortRun("Running", "09:59:59"), known: Known{Last: shortAttempt.WaitUntil(now)},
		want: shortRun("Running", "09:59:59"),
		next: shortAttempt,
	}, {
		name: "stored startTime in whole seconds, another attempt's deadline: the stored one",
		in:   shortRun("Started", "09:59:59"), known: Known{Last: Action{Kind: Wait, Attempt: 2, Deadline: now.Add(time.Hour), At: now}},
		want: shortTimedOut,
		next: Action{Kind: Done},
	}, {
		name: "stored startTime in whole seconds after a restart: the deadline from the stored status",
		in:   shortRun("Started", "09:59:59"), known: Known{},
		want: shortTimedOut,
		next: Action{Kind: Done},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Machine{Clock: clocktesting.NewFakePassiveClock(now)}
			run := parse(t, tc.in)
			next := m.Step(run, tc.known)
			if d := cmp.Diff(tc.next, next); d != "" {
				t.Errorf("action (-want +got):\n%s", d)
			}
			diffRuns(t, run, tc.want)
		})
	}
}
