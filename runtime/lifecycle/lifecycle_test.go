package lifecycle

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/yaml"
)

// now is the fake clock's time in every case; YAML timestamps are relative
// to it: 10:00:00 is now, earlier stamps are in the past.
var now = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func parse(t *testing.T, s string) *v1beta1.CustomRun {
	t.Helper()
	var run v1beta1.CustomRun
	if err := yaml.UnmarshalStrict([]byte(s), &run); err != nil {
		t.Fatalf("bad test YAML: %v\n%s", err, s)
	}
	return &run
}

func diffRuns(t *testing.T, got *v1beta1.CustomRun, wantYAML string) {
	t.Helper()
	want := parse(t, wantYAML)
	// Compare through YAML so the test reads like the object a user sees.
	g, _ := yaml.Marshal(got)
	w, _ := yaml.Marshal(want)
	if d := cmp.Diff(string(w), string(g)); d != "" {
		t.Errorf("run (-want +got):\n%s", d)
	}
}

const header = `
metadata: {name: r, namespace: ns, uid: u1}
`

func TestStep(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string
		act  Action
	}{{
		name: "start sets startTime and Unknown/Started",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 1m`,
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  timeout: 1m0s
status:
  startTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T10:00:00Z"}`,
		act: Action{Kind: Invoke, Attempt: 1, Deadline: now.Add(time.Minute)},
	}, {
		name: "default timeout is 60 minutes",
		in: header + `
spec:
  customSpec: {apiVersion: example.dev/v1, kind: Example}`,
		want: header + `
spec:
  customSpec: {apiVersion: example.dev/v1, kind: Example, metadata: {}}
  serviceAccountName: ""
status:
  startTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T10:00:00Z"}`,
		act: Action{Kind: Invoke, Attempt: 1, Deadline: now.Add(60 * time.Minute)},
	}, {
		name: "timeout 0s means none",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 0s
status:
  startTime: "2026-11-01T10:00:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-01T10:00:00Z"}`,
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  timeout: 0s
status:
  startTime: "2026-11-01T10:00:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-01T10:00:00Z"}`,
		act: Action{Kind: Invoke, Attempt: 1},
	}, {
		name: "customRef and customSpec both set",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  customSpec: {apiVersion: example.dev/v1, kind: Example}`,
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  customSpec: {apiVersion: example.dev/v1, kind: Example, metadata: {}}
  serviceAccountName: ""
status:
  startTime: "2026-11-29T10:00:00Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunValidationFailed, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: spec.customRef and spec.customSpec are both set; use exactly one}`,
		act: Action{Kind: Done},
	}, {
		name: "neither customRef nor customSpec",
		in:   header + `spec: {}`,
		want: header + `
spec: {serviceAccountName: ""}
status:
  startTime: "2026-11-29T10:00:00Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunValidationFailed, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: neither spec.customRef nor spec.customSpec is set; use exactly one}`,
		act: Action{Kind: Done},
	}, {
		name: "missing kind",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1}`,
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1}
  serviceAccountName: ""
status:
  startTime: "2026-11-29T10:00:00Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunValidationFailed, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: spec.customRef.kind is empty; name the custom task's kind}`,
		act: Action{Kind: Done},
	}, {
		name: "missing apiVersion in customSpec",
		in: header + `
spec:
  customSpec: {kind: Example}`,
		want: header + `
spec:
  customSpec: {kind: Example, metadata: {}}
  serviceAccountName: ""
status:
  startTime: "2026-11-29T10:00:00Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunValidationFailed, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: spec.customSpec.apiVersion is empty; name the custom task's apiVersion}`,
		act: Action{Kind: Done},
	}, {
		name: "cancelled before start uses statusMessage",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  status: RunCancelled
  statusMessage: CustomRun cancelled as the PipelineRun it belongs to has been cancelled.`,
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  status: RunCancelled
  statusMessage: CustomRun cancelled as the PipelineRun it belongs to has been cancelled.
status:
  startTime: "2026-11-29T10:00:00Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunCancelled, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: CustomRun cancelled as the PipelineRun it belongs to has been cancelled.}`,
		act: Action{Kind: Done},
	}, {
		name: "cancelled before any call answered Running, default message, no retry: no clean-up",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  status: RunCancelled
  retries: 3
status:
  startTime: "2026-11-29T09:59:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T09:59:00Z"}`,
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  status: RunCancelled
  retries: 3
status:
  startTime: "2026-11-29T09:59:00Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunCancelled, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: CustomRun "r" was cancelled}`,
		act: Action{Kind: Done},
	}, {
		name: "deadline passed before any call answered Running: timed out, no retries left, no clean-up",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 10s
status:
  startTime: "2026-11-29T09:59:50Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Retrying, lastTransitionTime: "2026-11-29T09:59:50Z"}
  extraFields: {polls: 3}`,
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  timeout: 10s
status:
  startTime: "2026-11-29T09:59:50Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunTimedOut, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: CustomRun "r" timed out after 10s (attempt 1 of 1)}
  extraFields: {polls: 3}`,
		act: Action{Kind: Done},
	}, {
		name: "deadline passed (restart recovery): timed out, retried with a fresh startTime",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 10s
  retries: 1
status:
  startTime: "2026-11-29T09:00:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T09:00:00Z"}`,
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  timeout: 10s
  retries: 1
status:
  startTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Retrying, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: Attempt 1 of 2 failed (CustomRunTimedOut); starting attempt 2}
  retriesStatus:
  - startTime: "2026-11-29T09:00:00Z"
    completionTime: "2026-11-29T10:00:00Z"
    conditions:
    - {type: Succeeded, status: "False", reason: CustomRunTimedOut, lastTransitionTime: "2026-11-29T10:00:00Z",
       message: CustomRun "r" timed out after 10s (attempt 1 of 2)}`,
		act: Action{Kind: Invoke, Attempt: 2, Deadline: now.Add(10 * time.Second)},
	}, {
		name: "done run is left alone",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  status: RunCancelled
status:
  startTime: "2026-11-29T09:00:00Z"
  completionTime: "2026-11-29T09:01:00Z"
  conditions:
  - {type: Succeeded, status: "True", reason: DurationElapsed, lastTransitionTime: "2026-11-29T09:01:00Z"}`,
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  status: RunCancelled
status:
  startTime: "2026-11-29T09:00:00Z"
  completionTime: "2026-11-29T09:01:00Z"
  conditions:
  - {type: Succeeded, status: "True", reason: DurationElapsed, lastTransitionTime: "2026-11-29T09:01:00Z"}`,
		act: Action{Kind: Done},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Machine{Clock: clocktesting.NewFakePassiveClock(now)}
			run := parse(t, tc.in)
			act := m.Step(run, Known{})
			if d := cmp.Diff(tc.act, act); d != "" {
				t.Errorf("action (-want +got):\n%s", d)
			}
			diffRuns(t, run, tc.want)
		})
	}
}

func resp(s string) *hostabi.Response {
	var r hostabi.Response
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		panic(err)
	}
	return &r
}

const running = header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 1m
  retries: 1
status:
  startTime: "2026-11-29T09:59:30Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T09:59:30Z"}`

const runningSpec = header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  timeout: 1m0s
  retries: 1`

// Step with the outcome of the invocation Known.Last asked for.
func TestStepRecordsOutcome(t *testing.T) {
	attempt1 := Action{Kind: Invoke, Attempt: 1, Deadline: now.Add(30 * time.Second)}
	for _, tc := range []struct {
		name string
		in   string
		act  Action
		out  Outcome
		want string
		next Action
	}{{
		name: "succeeded: True with results, extraFields and completionTime",
		in:   running, act: attempt1,
		out: Outcome{Response: resp(`{"status":"Succeeded","reason":"DurationElapsed","message":"done",
			"results":[{"name":"a","value":"1"}],"extraFields":{"k":"v"}}`)},
		want: runningSpec + `
status:
  startTime: "2026-11-29T09:59:30Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "True", reason: DurationElapsed, message: done, lastTransitionTime: "2026-11-29T10:00:00Z"}
  results: [{name: a, value: "1"}]
  extraFields: {k: v}`,
		next: Action{Kind: Done},
	}, {
		name: "succeeded without reason gets Succeeded",
		in:   running, act: attempt1,
		out: Outcome{Response: resp(`{"status":"Succeeded"}`)},
		want: runningSpec + `
status:
  startTime: "2026-11-29T09:59:30Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "True", reason: Succeeded, lastTransitionTime: "2026-11-29T10:00:00Z"}`,
		next: Action{Kind: Done},
	}, {
		name: "running: Unknown, extraFields kept, wait for requeueAfter",
		in:   running, act: attempt1,
		out: Outcome{Response: resp(`{"status":"Running","reason":"Waiting","message":"3s more","extraFields":{"polls":1},"requeueAfter":"3s"}`)},
		want: runningSpec + `
status:
  startTime: "2026-11-29T09:59:30Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Waiting, message: 3s more, lastTransitionTime: "2026-11-29T10:00:00Z"}
  extraFields: {polls: 1}`,
		next: Action{Kind: Wait, Attempt: 1, Deadline: now.Add(30 * time.Second), At: now.Add(3 * time.Second)},
	}, {
		name: "running: requeueAfter is capped at the deadline and raised to the minimum",
		in:   running, act: attempt1,
		out: Outcome{Response: resp(`{"status":"Running","requeueAfter":"1h"}`)},
		want: runningSpec + `
status:
  startTime: "2026-11-29T09:59:30Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Running, lastTransitionTime: "2026-11-29T10:00:00Z"}`,
		next: Action{Kind: Wait, Attempt: 1, Deadline: now.Add(30 * time.Second), At: now.Add(30 * time.Second)},
	}, {
		name: "failed with retries left: archived in retriesStatus, next attempt starts now",
		in:   running, act: attempt1,
		out: Outcome{Response: resp(`{"status":"Failed","reason":"PluginExited","message":"plugin exited with code 1","extraFields":{"x":1}}`)},
		want: runningSpec + `
status:
  startTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Retrying, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: Attempt 1 of 2 failed (PluginExited); starting attempt 2}
  retriesStatus:
  - startTime: "2026-11-29T09:59:30Z"
    completionTime: "2026-11-29T10:00:00Z"
    conditions:
    - {type: Succeeded, status: "False", reason: PluginExited, message: plugin exited with code 1, lastTransitionTime: "2026-11-29T10:00:00Z"}
    extraFields: {x: 1}`,
		next: Action{Kind: Invoke, Attempt: 2, Deadline: now.Add(time.Minute)},
	}, {
		name: "failed on the last attempt: False, retriesStatus kept",
		in: runningSpec + `
status:
  startTime: "2026-11-29T09:59:50Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Retrying, lastTransitionTime: "2026-11-29T09:59:50Z"}
  retriesStatus:
  - startTime: "2026-11-29T09:59:00Z"
    completionTime: "2026-11-29T09:59:50Z"
    conditions:
    - {type: Succeeded, status: "False", reason: Failed, lastTransitionTime: "2026-11-29T09:59:50Z"}`,
		act: Action{Kind: Invoke, Attempt: 2, Deadline: now.Add(50 * time.Second)},
		out: Outcome{Response: resp(`{"status":"Failed"}`)},
		want: runningSpec + `
status:
  startTime: "2026-11-29T09:59:50Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: Failed, lastTransitionTime: "2026-11-29T10:00:00Z"}
  retriesStatus:
  - startTime: "2026-11-29T09:59:00Z"
    completionTime: "2026-11-29T09:59:50Z"
    conditions:
    - {type: Succeeded, status: "False", reason: Failed, lastTransitionTime: "2026-11-29T09:59:50Z"}`,
		next: Action{Kind: Done},
	}, {
		name: "deadline exceeded: timed out, retried",
		in:   running, act: attempt1,
		out: Outcome{Err: context.DeadlineExceeded},
		want: runningSpec + `
status:
  startTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Retrying, lastTransitionTime: "2026-11-29T10:00:00Z",
     message: Attempt 1 of 2 failed (CustomRunTimedOut); starting attempt 2}
  retriesStatus:
  - startTime: "2026-11-29T09:59:30Z"
    completionTime: "2026-11-29T10:00:00Z"
    conditions:
    - {type: Succeeded, status: "False", reason: CustomRunTimedOut, lastTransitionTime: "2026-11-29T10:00:00Z",
       message: CustomRun "r" timed out after 1m0s (attempt 1 of 2)}`,
		next: Action{Kind: Invoke, Attempt: 2, Deadline: now.Add(time.Minute)},
	}, {
		name: "interrupted by cancellation: CustomRunCancelled, not retried",
		in: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  retries: 1
  status: RunCancelled
  statusMessage: stop
status:
  startTime: "2026-11-29T09:59:30Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T09:59:30Z"}`,
		act: attempt1,
		out: Outcome{Err: context.Canceled},
		want: header + `
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  retries: 1
  status: RunCancelled
  statusMessage: stop
status:
  startTime: "2026-11-29T09:59:30Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: CustomRunCancelled, message: stop, lastTransitionTime: "2026-11-29T10:00:00Z"}`,
		next: Action{Kind: Done},
	}, {
		name: "interrupted by shutdown: the attempt runs again",
		in:   running, act: attempt1,
		out: Outcome{Err: context.Canceled},
		want: runningSpec + `
status:
  startTime: "2026-11-29T09:59:30Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T09:59:30Z"}`,
		next: Action{Kind: Invoke, Attempt: 1, Deadline: now.Add(30 * time.Second)},
	}, {
		name: "outcome of a stale attempt is dropped",
		in:   running, act: Action{Kind: Invoke, Attempt: 2},
		out: Outcome{Response: resp(`{"status":"Succeeded"}`)},
		want: runningSpec + `
status:
  startTime: "2026-11-29T09:59:30Z"
  conditions:
  - {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "2026-11-29T09:59:30Z"}`,
		next: attempt1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Machine{Clock: clocktesting.NewFakePassiveClock(now)}
			run := parse(t, tc.in)
			next := m.Step(run, Known{Last: tc.act, Outcome: &tc.out})
			if d := cmp.Diff(tc.next, next); d != "" {
				t.Errorf("action (-want +got):\n%s", d)
			}
			diffRuns(t, run, tc.want)
		})
	}
}

// TestRetriesEndToEnd drives a run through every attempt with a fake clock
// the way the local runner and the controller do.
func TestRetriesEndToEnd(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(now)
	m := &Machine{Clock: clk}
	run := parse(t, header+`
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  timeout: 1s
  retries: 2`)
	act := m.Step(run, Known{})
	invocations := 0
	for act.Kind != Done {
		if act.Kind != Invoke || act.Attempt != invocations+1 {
			t.Fatalf("action %+v after %d invocations", act, invocations)
		}
		invocations++
		clk.SetTime(act.Deadline)
		act = m.Step(run, Known{Last: act, Outcome: &Outcome{Err: context.DeadlineExceeded}})
	}
	if invocations != 3 || len(run.Status.RetriesStatus) != 2 {
		t.Fatalf("invocations = %d, retriesStatus = %d; want 3 and 2", invocations, len(run.Status.RetriesStatus))
	}
	c := run.Status.GetCondition("Succeeded")
	if !c.IsFalse() || c.Reason != ReasonTimedOut {
		t.Errorf("final condition = %+v; want False/%s", c, ReasonTimedOut)
	}
	if got := run.Status.CompletionTime.Sub(now); got != 3*time.Second {
		t.Errorf("run took %s; want 3s", got)
	}
}

func TestFail(t *testing.T) {
	m := &Machine{Clock: clocktesting.NewFakePassiveClock(now)}
	run := parse(t, header+`
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  retries: 3`)
	if act := m.Fail(run, "PluginUnavailable", "no"); act.Kind != Done {
		t.Fatalf("Fail returned %v", act.Kind)
	}
	diffRuns(t, run, header+`
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  serviceAccountName: ""
  retries: 3
status:
  startTime: "2026-11-29T10:00:00Z"
  completionTime: "2026-11-29T10:00:00Z"
  conditions:
  - {type: Succeeded, status: "False", reason: PluginUnavailable, message: "no", lastTransitionTime: "2026-11-29T10:00:00Z"}`)
}

// requestRun is a run that sets every field a request carries.
const requestRun = `
metadata: {name: r, namespace: ns, uid: u1, labels: {tekton.dev/pipelineRun: p}}
spec:
  serviceAccountName: builder
  retries: 2
  customSpec:
    apiVersion: example.dev/v1
    kind: Example
    metadata: {labels: {l: v}}
    spec: {greeting: hi}
  params:
  - {name: s, value: x}
  - {name: a, value: [x, z]}
  - {name: o, value: {k: v}}
status:
  startTime: "2026-11-29T09:59:00Z"
  extraFields: {m: 1}`

// requestJSON is the JSON of the request m builds.
func requestJSON(t *testing.T, m *Machine, run *v1beta1.CustomRun, act Action, in Inputs) string {
	t.Helper()
	b, err := json.Marshal(m.Request(run, act, in))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRequest(t *testing.T) {
	m := &Machine{Clock: clocktesting.NewFakePassiveClock(now)}
	run := parse(t, requestRun)
	got := requestJSON(t, m, run, Action{Kind: Invoke, Attempt: 2, Deadline: now.Add(time.Minute)}, Inputs{})
	want := `{"abiVersion":"tekton-wasm/v1","run":{"name":"r","namespace":"ns","uid":"u1","labels":{"tekton.dev/pipelineRun":"p"},"serviceAccountName":"builder"},` +
		`"apiVersion":"example.dev/v1","kind":"Example","spec":{"greeting":"hi"},"metadata":{"labels":{"l":"v"}},` +
		`"params":[{"name":"s","value":"x"},{"name":"a","value":["x","z"]},{"name":"o","value":{"k":"v"}}],` +
		`"attempt":2,"retries":2,"startTime":"2026-11-29T09:59:00Z","deadline":"2026-11-29T10:01:00Z","extraFields":{"m":1}}`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
}

// The inputs the caller resolved and prepared are in the request.
func TestRequestInputs(t *testing.T) {
	m := &Machine{Clock: clocktesting.NewFakePassiveClock(now)}
	run := parse(t, header+`
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example, name: five}`)
	got := requestJSON(t, m, run, Action{Kind: Invoke, Attempt: 1}, Inputs{
		Spec:       json.RawMessage(`{"seconds":5}`),
		Workspaces: []hostabi.Workspace{{Name: "conf", Path: "/workspace/conf", ReadOnly: true}},
	})
	want := `{"abiVersion":"tekton-wasm/v1","run":{"name":"r","namespace":"ns","uid":"u1"},"apiVersion":"example.dev/v1","kind":"Example",` +
		`"ref":"five","spec":{"seconds":5},"attempt":1,"retries":0,"startTime":"0001-01-01T00:00:00Z",` +
		`"workspaces":[{"name":"conf","path":"/workspace/conf","readOnly":true}]}`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
}

// A snapshot builds the same request as the run, holds none of the rest
// of the run, and does not change with it.
func TestSnapshot(t *testing.T) {
	m := &Machine{Clock: clocktesting.NewFakePassiveClock(now)}
	run := parse(t, requestRun+`
  retriesStatus:
  - startTime: "2026-11-29T09:58:00Z"`)
	run.Annotations = map[string]string{"big": "x"}
	run.Spec.Workspaces = []v1beta1.WorkspaceBinding{{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	act := Action{Kind: Invoke, Attempt: 2, Deadline: now.Add(time.Minute)}
	snap := Snapshot(run)
	want, _ := json.Marshal(m.Request(run, act, Inputs{}))
	run.Labels["tekton.dev/pipelineRun"] = "changed"
	run.Spec.Params[0].Value.StringVal = "changed"
	run.Status.StartTime.Time = now
	run.Status.ExtraFields.Raw[0] = ' '
	got, _ := json.Marshal(m.Request(snap, act, Inputs{}))
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("request from the snapshot (-run +snapshot):\n%s", d)
	}
	if len(snap.Status.RetriesStatus) != 0 || len(snap.Annotations) != 0 || len(snap.Spec.Workspaces) != 1 {
		t.Errorf("snapshot holds %+v", snap)
	}
}
