package pipelinerun

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"
)

var (
	pluginsOnce sync.Once
	waitPlugin  *engine.CompiledPlugin
	semver      *engine.CompiledPlugin
)

// plugins serves Wait (plugins/wait) and SemVer (plugins/semver), compiled
// once for the package's tests and benchmarks.
func plugins(tb testing.TB) func(apiVersion, kind string) (*local.Runner, error) {
	tb.Helper()
	pluginsOnce.Do(func() {
		ctx := context.Background()
		eng, err := engine.New(ctx, engine.Config{})
		if err != nil {
			tb.Fatal(err)
		}
		if waitPlugin, err = eng.Compile(ctx, wasmtest.GoPlugin(tb, "../../plugins/wait"), engine.Limits{}); err != nil {
			tb.Fatal(err)
		}
		if semver, err = eng.Compile(ctx, wasmtest.CPlugin(tb, "../../plugins/semver"), engine.Limits{}); err != nil {
			tb.Fatal(err)
		}
	})
	machine := &lifecycle.Machine{Clock: clock.RealClock{}}
	return func(apiVersion, kind string) (*local.Runner, error) {
		switch apiVersion + "/" + kind {
		case "wait.tekton-wasm.dev/v1alpha1/Wait":
			return &local.Runner{Machine: machine, Plugin: waitPlugin}, nil
		case "semver.tekton-wasm.dev/v1alpha1/SemVer":
			return &local.Runner{Machine: machine, Plugin: semver}, nil
		}
		return nil, nil
	}
}

func parse(t testing.TB, doc string) *v1.PipelineRun {
	t.Helper()
	var pr v1.PipelineRun
	if err := yaml.UnmarshalStrict([]byte(doc), &pr); err != nil {
		t.Fatal(err)
	}
	return &pr
}

// events records the progress of a run.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

// final is each task's last state: task -> state/reason.
func (e *events) final() map[string]string {
	m := map[string]string{}
	for _, ev := range e.all {
		m[ev.Task] = ev.State + "/" + ev.Reason
	}
	return m
}

func run(t *testing.T, doc string) (*v1.PipelineRun, map[string]string) {
	t.Helper()
	pr := parse(t, doc)
	var ev events
	r := &Runner{Plugins: plugins(t), Progress: ev.add}
	if err := r.Run(context.Background(), pr); err != nil {
		t.Fatal(err)
	}
	return pr, ev.final()
}

func condition(pr *v1.PipelineRun) string {
	c := pr.Status.GetCondition(apis.ConditionSucceeded)
	if c == nil {
		return "<none>"
	}
	return string(c.Status) + "/" + c.Reason
}

func skipped(pr *v1.PipelineRun) map[string]string {
	m := map[string]string{}
	for _, s := range pr.Status.SkippedTasks {
		m[s.Name] = string(s.Reason)
	}
	return m
}

const header = `
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: pr}
`

// A fan-out from one task's results to two, a fan-in to a gate, results
// of the pipeline from the tasks' results and object and array params.
func TestFanOutFanInResults(t *testing.T) {
	pr, got := run(t, header+`
spec:
  params:
  - {name: version, value: v1.4.2}
  - {name: gates, value: ["^1", ">=1.4"]}
  - {name: release, value: {constraint: "<2.0.0"}}
  pipelineSpec:
    params:
    - {name: version}
    - {name: gates, type: array}
    - {name: release, type: object, properties: {constraint: {}}}
    tasks:
    - name: parse
      taskRef: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params: [{name: version, value: $(params.version)}]
    - name: major
      taskRef: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params:
      - {name: version, value: "$(tasks.parse.results.major).0.0"}
      - {name: constraint, value: "$(params.gates[0])"}
    - name: minor
      taskRef: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params:
      - {name: version, value: "$(tasks.parse.results.major).$(tasks.parse.results.minor).0"}
      - {name: constraint, value: "$(params.gates[1])"}
    - name: gate
      runAfter: [major, minor]
      taskSpec: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params:
      - {name: version, value: $(params.version)}
      - {name: constraint, value: "$(params.release.constraint)"}
      - {name: require, value: "true"}
    results:
    - {name: major, value: $(tasks.parse.results.major)}
    - {name: gates, value: "$(tasks.major.results.satisfied),$(tasks.minor.results.satisfied),$(tasks.gate.results.satisfied)"}
`)
	if c := condition(pr); c != "True/Succeeded" {
		t.Fatalf("the PipelineRun ended %s: %s", c, pr.Status.GetCondition(apis.ConditionSucceeded).Message)
	}
	want := map[string]string{"parse": "Succeeded/ValidVersion", "major": "Succeeded/ConstraintSatisfied", "minor": "Succeeded/ConstraintSatisfied", "gate": "Succeeded/ConstraintSatisfied"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("task states (-want +got):\n%s", d)
	}
	results := map[string]string{}
	for _, r := range pr.Status.Results {
		results[r.Name] = r.Value.StringVal
	}
	if d := cmp.Diff(map[string]string{"major": "1", "gates": "true,true,true"}, results); d != "" {
		t.Errorf("pipeline results (-want +got):\n%s", d)
	}
	if n := len(pr.Status.ChildReferences); n != 4 {
		t.Errorf("%d childReferences, want 4: %+v", n, pr.Status.ChildReferences)
	}
	for _, ref := range pr.Status.ChildReferences {
		if ref.Kind != "CustomRun" || ref.Name != "pr-"+ref.PipelineTaskName {
			t.Errorf("childReference %+v, want a CustomRun named pr-<task>", ref)
		}
	}
}

// A when expression skips its task, not what runs after it; a task using
// a skipped task's result is skipped too; a failed task stops the DAG
// and finally tasks see $(tasks.status) and $(tasks.X.status).
func TestWhenFailureFinally(t *testing.T) {
	pr, got := run(t, header+`
spec:
  params: [{name: channel, value: stable}]
  pipelineSpec:
    params: [{name: channel}]
    tasks:
    - name: beta-only
      when: [{input: $(params.channel), operator: in, values: [beta]}]
      taskRef: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params: [{name: version, value: 1.0.0-beta}]
    - name: after-beta
      runAfter: [beta-only]
      taskRef: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params: [{name: version, value: 1.0.0}]
    - name: uses-beta
      taskRef: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params: [{name: version, value: $(tasks.beta-only.results.major).0.0}]
    - name: gate
      runAfter: [after-beta]
      taskRef: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params: [{name: version, value: 2.0.0}, {name: constraint, value: ^1}, {name: require, value: "true"}]
    - name: never
      runAfter: [gate]
      taskRef: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params: [{name: version, value: 1.0.0}]
    finally:
    - name: on-failure
      when: [{input: $(tasks.gate.status), operator: in, values: [Failed]}, {input: $(tasks.status), operator: in, values: [Failed]}]
      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}
      params: [{name: duration, value: 0s}]
    - name: on-success
      when: [{input: $(tasks.status), operator: in, values: [Succeeded]}]
      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}
      params: [{name: duration, value: 0s}]
`)
	if c := condition(pr); c != "False/Failed" {
		t.Fatalf("the PipelineRun ended %s, want False/Failed", c)
	}
	want := map[string]string{
		"beta-only": "Skipped/When Expressions evaluated to false", "uses-beta": "Skipped/Results were missing",
		"after-beta": "Succeeded/ValidVersion", "gate": "Failed/ConstraintNotSatisfied", "never": "Skipped/PipelineRun was stopping",
		"on-failure": "Succeeded/DurationElapsed", "on-success": "Skipped/When Expressions evaluated to false",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("task states (-want +got):\n%s", d)
	}
	// Tekton decides skipping afresh on each reconcile, and a stopping
	// PipelineRun (gate failed) comes first among its reasons: the status
	// says so for every DAG task that did not run, as on a cluster.
	wantSkipped := map[string]string{"beta-only": "PipelineRun was stopping", "uses-beta": "PipelineRun was stopping",
		"never": "PipelineRun was stopping", "on-success": "When Expressions evaluated to false"}
	if d := cmp.Diff(wantSkipped, skipped(pr)); d != "" {
		t.Errorf("skippedTasks (-want +got):\n%s", d)
	}
}

// A task's timeout and retries become its CustomRun's, which the state
// machine applies: each attempt times out, the last ends the task.
func TestRetries(t *testing.T) {
	pr, got := run(t, header+`
spec:
  pipelineSpec:
    tasks:
    - name: slow
      timeout: 200ms
      retries: 2
      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}
      params: [{name: duration, value: 10s}]
`)
	if c := condition(pr); c != "False/Failed" {
		t.Fatalf("the PipelineRun ended %s, want False/Failed", c)
	}
	if got["slow"] != "Failed/CustomRunTimedOut" {
		t.Errorf("slow ended %s, want Failed/CustomRunTimedOut", got["slow"])
	}
}

// timeouts.pipeline cancels the running task with Tekton's timeout
// message and skips what was left; the PipelineRun ends timed out.
func TestPipelineTimeout(t *testing.T) {
	start := time.Now()
	pr, got := run(t, header+`
spec:
  timeouts: {pipeline: 500ms}
  pipelineSpec:
    tasks:
    - name: slow
      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}
      params: [{name: duration, value: 30s}]
    - name: next
      runAfter: [slow]
      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}
      params: [{name: duration, value: 0s}]
`)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %s; the timeout did not end it", took)
	}
	if c := condition(pr); c != "False/PipelineRunTimeout" {
		t.Fatalf("the PipelineRun ended %s, want False/PipelineRunTimeout", c)
	}
	if got["slow"] != "Failed/CustomRunCancelled" {
		t.Errorf("slow ended %s, want Failed/CustomRunCancelled", got["slow"])
	}
	if _, ran := got["next"]; ran && got["next"] != "Skipped/PipelineRun timeout has been reached" {
		t.Errorf("next: %s", got["next"])
	}
}

// timeouts.tasks cancels the DAG, then the finally tasks run;
// timeouts.finally cancels the finally tasks still running once it has
// passed since the first of them started, and the DAG's outcome stands.
func TestTasksAndFinallyTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name, timeouts, dag, finally string // the durations the tasks wait
		condition                    string
		want                         map[string]string
	}{
		{"tasks", "tasks: 300ms", "30s", "0s", "False/PipelineRunTimeout", map[string]string{"dag": "Failed/CustomRunCancelled", "fin": "Succeeded/DurationElapsed"}},
		{"finally", "finally: 300ms", "0s", "30s", "False/Failed", map[string]string{"dag": "Succeeded/DurationElapsed", "fin": "Failed/CustomRunCancelled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, got := run(t, header+`
spec:
  timeouts: {pipeline: 1m, `+tc.timeouts+`}
  pipelineSpec:
    tasks:
    - name: dag
      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}
      params: [{name: duration, value: `+tc.dag+`}]
    finally:
    - name: fin
      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}
      params: [{name: duration, value: `+tc.finally+`}]
`)
			if c := condition(pr); c != tc.condition {
				t.Errorf("the PipelineRun ended %s, want %s", c, tc.condition)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("tasks (-want +got):\n%s", d)
			}
		})
	}
}

// Cancelling the context (Ctrl-C) cancels the running tasks and the
// PipelineRun.
func TestInterrupt(t *testing.T) {
	pr := parse(t, header+`
spec:
  pipelineSpec:
    tasks:
    - name: a
      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}
      params: [{name: duration, value: 30s}]
    - name: b
      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}
      params: [{name: duration, value: 30s}]
`)
	// Interrupted once both tasks run (the wait plugin answered Running),
	// not after a fixed time, which a loaded machine may spend starting.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ev events
	running := map[string]bool{}
	progress := func(e Event) {
		ev.add(e)
		if e.State == "Running" {
			ev.mu.Lock()
			running[e.Task] = true
			both := running["a"] && running["b"]
			ev.mu.Unlock()
			if both {
				cancel()
			}
		}
	}
	if err := (&Runner{Plugins: plugins(t), Progress: progress}).Run(ctx, pr); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("the PipelineRun ended with the context %v before both tasks ran", ctx.Err())
	}
	if c := condition(pr); c != "False/Cancelled" {
		t.Fatalf("the PipelineRun ended %s, want False/Cancelled", c)
	}
	want := map[string]string{"a": "Failed/CustomRunCancelled", "b": "Failed/CustomRunCancelled"}
	if d := cmp.Diff(want, ev.final()); d != "" {
		t.Errorf("task states (-want +got):\n%s", d)
	}
}

// The tasks that cannot run here are refused before anything runs, with
// the task's name and why.
func TestRefused(t *testing.T) {
	for _, tc := range []struct{ name, spec, want string }{
		{"task", `tasks: [{name: build, taskRef: {name: golang-build}}]`, `pipeline task "build" is not a plugin kind`},
		{"task-spec", `tasks: [{name: build, taskSpec: {steps: [{image: alpine, script: "true"}]}}]`, `pipeline task "build" is not a plugin kind`},
		{"unknown-kind", `tasks: [{name: ok, taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}}, {name: deploy, taskRef: {apiVersion: example.dev/v1, kind: Deploy}}]`, `pipeline task "deploy": no plugin serves kind "Deploy"`},
		{"unknown-kind-finally", `tasks: [{name: ok, taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}}]
    finally: [{name: notify, taskRef: {apiVersion: example.dev/v1, kind: Notify}}]`, `pipeline task "notify": no plugin serves kind "Notify"`},
		// Tekton's webhook refuses what its validation refuses.
		{"pipeline-in-pipeline", `tasks: [{name: sub, pipelineRef: {name: other}}]`, `the PipelineRun is invalid: pipelineRef requires "enable-api-fields" feature gate to be "alpha"`},
		{"cycle", `tasks:
    - {name: a, runAfter: [b], taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}}
    - {name: b, runAfter: [a], taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}}`, `cycle detected; task "a" depends on "b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := parse(t, header+"spec:\n  pipelineSpec:\n    "+tc.spec+"\n")
			err := (&Runner{Plugins: plugins(t)}).Run(context.Background(), pr)
			var refusal *Refusal
			if !errors.As(err, &refusal) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a Refusal saying %q", err, tc.want)
			}
			if len(pr.Status.ChildReferences) != 0 || pr.Status.StartTime != nil {
				t.Errorf("something ran: %+v", pr.Status)
			}
		})
	}
}

// pipelineRef resolves through Runner.Pipelines; a missing Pipeline is a
// Refusal naming it.
func TestPipelineRef(t *testing.T) {
	var p v1.Pipeline
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: greet}
spec:
  tasks: [{name: w, taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}, params: [{name: duration, value: 0s}]}]
`), &p); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Plugins: plugins(t), Pipelines: map[string]*v1.Pipeline{"greet": &p}}
	pr := parse(t, header+"spec: {pipelineRef: {name: greet}}\n")
	if err := r.Run(context.Background(), pr); err != nil {
		t.Fatal(err)
	}
	if c := condition(pr); c != "True/Succeeded" {
		t.Errorf("the PipelineRun ended %s", c)
	}
	pr = parse(t, header+"spec: {pipelineRef: {name: missing}}\n")
	if err := r.Run(context.Background(), pr); err == nil || !strings.Contains(err.Error(), `no Pipeline "missing" was given`) {
		t.Errorf("got %v, want a refusal naming the Pipeline", err)
	}
}

// A PipelineRun Tekton would fail before running a task fails the same
// way here, with Tekton's reason.
func TestInvalid(t *testing.T) {
	for _, tc := range []struct{ name, spec, reason string }{
		{"missing-param", `pipelineSpec:
    params: [{name: v}]
    tasks: [{name: w, taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}, params: [{name: duration, value: $(params.v)}]}]`, "ParameterMissing"},
		{"param-type", `params: [{name: v, value: "0s"}]
  pipelineSpec:
    params: [{name: v, type: array}]
    tasks: [{name: w, taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}, params: [{name: duration, value: 0s}]}]`, "ParameterTypeMismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := parse(t, header+"spec:\n  "+tc.spec+"\n")
			if err := (&Runner{Plugins: plugins(t)}).Run(context.Background(), pr); err != nil {
				t.Fatal(err)
			}
			c := pr.Status.GetCondition(apis.ConditionSucceeded)
			if c == nil || c.Status != corev1.ConditionFalse || c.Reason != tc.reason {
				t.Fatalf("condition %+v, want False %s", c, tc.reason)
			}
			if len(pr.Status.ChildReferences) != 0 {
				t.Errorf("tasks ran: %+v", pr.Status.ChildReferences)
			}
		})
	}
}

// A matrix fans a task out to one CustomRun per combination, named as
// Tekton names them.
func TestMatrix(t *testing.T) {
	pr, _ := run(t, header+`
spec:
  pipelineSpec:
    tasks:
    - name: check
      matrix:
        params: [{name: version, value: [1.0.0, 2.0.0, 3.1.4]}]
      taskRef: {apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer}
      params: [{name: constraint, value: ">=2"}]
`)
	if c := condition(pr); c != "True/Succeeded" {
		t.Fatalf("the PipelineRun ended %s", c)
	}
	var names []string
	for _, ref := range pr.Status.ChildReferences {
		names = append(names, ref.Name)
	}
	if d := cmp.Diff([]string{"pr-check-0", "pr-check-1", "pr-check-2"}, names); d != "" {
		t.Errorf("childReferences (-want +got):\n%s", d)
	}
}
