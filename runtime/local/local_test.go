package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"
)

// testRun is a run named r of the test plugin's kind, with spec lines.
func testRun(t *testing.T, spec string) *v1beta1.CustomRun {
	t.Helper()
	var r v1beta1.CustomRun
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: r}
spec:
  customRef: {apiVersion: test.tekton-wasm.dev/v1, kind: Test}
`+spec), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func customRun(t *testing.T, workspaces string) *v1beta1.CustomRun {
	t.Helper()
	return testRun(t, "  params: [{name: mode, value: echo}]\n  workspaces: "+workspaces)
}

// plugin compiles the reconciler's test plugin (its echo mode lists the
// files of every workspace, writes one into each writable workspace and
// fails if it can write into a read-only one).
func plugin(t *testing.T) *engine.CompiledPlugin {
	t.Helper()
	ctx := context.Background()
	eng, err := engine.New(ctx, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(ctx) })
	p, err := eng.Compile(ctx, wasmtest.GoPlugin(t, "../reconciler/testdata/plugin"), engine.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func succeeded(run *v1beta1.CustomRun) *apis.Condition {
	return run.Status.GetCondition(apis.ConditionSucceeded)
}

// The runner prepares workspaces through workspace.Local: a bound
// configMap is read-only, a bound emptyDir is the user's directory, an
// unbound one is a temporary directory removed after the call.
func TestRunWorkspaces(t *testing.T) {
	conf, out, tmp := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "greeting"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Runner{
		Machine:    &lifecycle.Machine{Clock: clock.RealClock{}},
		Plugin:     plugin(t),
		Workspaces: &workspace.Local{Bindings: map[string]string{"conf": conf, "out": out}, Dir: tmp},
	}
	run := customRun(t, "[{name: conf, configMap: {name: settings}}, {name: out, emptyDir: {}}, {name: scratch, emptyDir: {}}]")
	if err := r.Run(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if c := succeeded(run); c.Status != corev1.ConditionTrue {
		t.Fatalf("the run ended %s %s: %s", c.Status, c.Reason, c.Message)
	}
	want := "/workspace/conf/greeting=hello,/workspace/out/written=ok,/workspace/scratch/written=ok"
	if got := run.Status.Results[len(run.Status.Results)-1]; got.Name != "files" || got.Value != want {
		t.Errorf("the plugin saw %s=%q, want files=%q", got.Name, got.Value, want)
	}
	if b, err := os.ReadFile(filepath.Join(out, "written")); err != nil || string(b) != "ok" {
		t.Errorf("the bound emptyDir holds %q, %v; want what the plugin wrote", b, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary workspaces left after the run: %v", left)
	}
}

// A workspace the run's spec gets wrong ends the run as in the controller,
// with the same reason and message, before the plugin is called (the
// runner has none here: a call would panic).
func TestRunWorkspaceErrorsEndTheRun(t *testing.T) {
	for _, tc := range []struct{ workspaces, reason, msg string }{{
		workspaces: "[{name: scratch, emptyDir: {}}, {name: source, persistentVolumeClaim: {claimName: src}}]",
		reason:     "CustomRunWorkspaceNotSupported",
		msg:        `workspace "source" is a persistentVolumeClaim; plugins support emptyDir, configMap and secret workspaces`,
	}, {
		workspaces: "[{name: a, emptyDir: {}}, {name: a, emptyDir: {}}]",
		reason:     "WorkspaceInvalid",
		msg:        `workspace name "a" is used twice`,
	}} {
		t.Run(tc.reason, func(t *testing.T) {
			tmp := t.TempDir()
			r := &Runner{Machine: &lifecycle.Machine{Clock: clock.RealClock{}}, Workspaces: &workspace.Local{Dir: tmp}}
			run := customRun(t, tc.workspaces)
			if err := r.Run(context.Background(), run); err != nil {
				t.Fatal(err)
			}
			c := succeeded(run)
			if d := cmp.Diff([]string{"False", tc.reason, tc.msg}, []string{string(c.Status), c.Reason, c.Message}); d != "" {
				t.Errorf("condition (-want +got):\n%s", d)
			}
			if run.Status.StartTime == nil || run.Status.CompletionTime == nil {
				t.Errorf("start %v, completion %v; want both", run.Status.StartTime, run.Status.CompletionTime)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("workspaces left: %v", left)
			}
		})
	}
}

// A configMap workspace without a binding is the runner's problem, not
// the run's: Run returns it, telling the user what to bind, and the run
// has not ended.
func TestRunUnboundConfigMap(t *testing.T) {
	r := &Runner{Machine: &lifecycle.Machine{Clock: clock.RealClock{}}}
	run := customRun(t, "[{name: config, configMap: {name: settings}}]")
	err := r.Run(context.Background(), run)
	if err == nil || !strings.Contains(err.Error(), "bind it to a local directory with --workspace config=DIR") {
		t.Fatalf("err = %v, want one saying to bind config", err)
	}
	if run.IsDone() {
		t.Errorf("the run ended: %+v", succeeded(run))
	}
}

// A run whose context is cancelled with a Cancellation ends with its
// message as spec.statusMessage (a PipelineRun's timeout); Slot gates
// each invocation, the clean-up call included, and Changed sees each
// change of the condition.
func TestRunCancellationSlotChanged(t *testing.T) {
	var slots int
	var changes []string
	r := &Runner{
		Machine: &lifecycle.Machine{Clock: clock.RealClock{}},
		Plugin:  plugin(t),
		Slot: func(ctx context.Context) (func(), error) {
			slots++
			return func() {}, nil
		},
		Changed: func(run *v1beta1.CustomRun) {
			c := succeeded(run)
			changes = append(changes, string(c.Status)+"/"+c.Reason)
		},
	}
	run := customRun(t, "[]")
	run.Spec.Params = v1beta1.Params{{Name: "mode", Value: *v1beta1.NewStructuredValues("poll")}, {Name: "calls", Value: *v1beta1.NewStructuredValues("99")}, {Name: "every", Value: *v1beta1.NewStructuredValues("1h")}}
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(&Cancellation{Message: "the PipelineRun timed out"}) })
	if err := r.Run(ctx, run); err != nil {
		t.Fatal(err)
	}
	c := succeeded(run)
	if c.Reason != lifecycle.ReasonCancelled || run.Spec.StatusMessage != "the PipelineRun timed out" || c.Message != "the PipelineRun timed out" {
		t.Errorf("ended %s %q with statusMessage %q; want CustomRunCancelled with the Cancellation's message", c.Reason, c.Message, run.Spec.StatusMessage)
	}
	if slots != 2 {
		t.Errorf("%d slots taken, want 2 (one invocation, which answered Running, and its clean-up call)", slots)
	}
	if d := cmp.Diff([]string{"Unknown/Started", "Unknown/Polling", "False/CustomRunCancelled"}, changes); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
}
