package reconciler

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/controller"
	pkgreconciler "knative.dev/pkg/reconciler"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// run is the YAML of a CustomRun of kind Test in namespace ns, with the
// given params (YAML list items, e.g. "{name: mode, value: echo}") and
// extra spec lines.
func run(name string, params []string, spec ...string) string {
	return lines(append([]string{
		"metadata: {name: " + name + ", namespace: ns, uid: uid-" + name + "}",
		"spec:",
		"  customRef: {apiVersion: " + testAPI + ", kind: Test}",
		"  params: [" + strings.Join(params, ", ") + "]",
	}, spec...)...)
}

func mode(m string) string { return "{name: mode, value: " + m + "}" }

func TestSucceedsWithOneWrite(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("echo")}, "  timeout: 1m"))

	// The invocation starts; its status is held back for statusDelay.
	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.invocationEnds(key)
	// One write: start, results and the final condition together.
	w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Normal Succeeded CustomRun succeeded"}})
	w.expectStatus(key, lines(
		"startTime: "+ts(0),
		"completionTime: "+ts(0),
		"conditions:",
		"- {type: Succeeded, status: 'True', reason: Succeeded, lastTransitionTime: "+ts(0)+"}",
		"results:",
		"- {name: attempt, value: '1'}",
		"- {name: ref, value: ''}",
		"- {name: spec, value: ''}",
		"- {name: labels, value: ''}",
		"- {name: files, value: ''}",
	))
	// The informer's copy of the final status changes nothing.
	w.expect(w.reconcile(key), outcome{requeue: -1})
}

func TestStartIsStoredAfterStatusDelay(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("hang")}, "  timeout: 1m"))

	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	// Reconciled early (say, a label changed): still held back.
	w.clock.Step(time.Second)
	w.expect(w.reconcile(key), outcome{requeue: time.Second})
	w.clock.Step(time.Second)
	w.expect(w.reconcile(key), outcome{requeue: time.Minute - statusDelay, writes: 1, events: []string{"Normal Started Attempt 1 of 1 started"}})
	w.expectStatus(key, lines(
		"startTime: "+ts(0),
		"conditions:",
		"- {type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "+ts(0)+"}",
	))
	// Nothing more to store while the invocation runs.
	w.expect(w.reconcile(key), outcome{requeue: time.Minute - statusDelay})
}

func TestStartIsStoredAfterStatusDelayWithoutTimeout(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("hang")}, "  timeout: 0s"))

	// No deadline: the run comes back when the start is due, not at once.
	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.clock.Step(statusDelay)
	w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Normal Started Attempt 1 of 1 started"}})
}

func TestRetries(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("fail"), "{name: succeedOn, value: '3'}"}, "  retries: 2"))

	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.invocationEnds(key)
	// Attempt 1 failed: attempt 2 starts at once; nothing is stored yet.
	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.invocationEnds(key)
	w.clock.Step(time.Second)
	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.invocationEnds(key)
	w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{
		"Warning Retrying Attempt 1 of 3 failed (Boom): attempt 1 failed; retrying",
		"Warning Retrying Attempt 2 of 3 failed (Boom): attempt 2 failed; retrying",
		"Normal Succeeded CustomRun succeeded",
	}})
	w.expectStatus(key, lines(
		"startTime: "+ts(time.Second),
		"completionTime: "+ts(time.Second),
		"conditions:",
		"- {type: Succeeded, status: 'True', reason: Succeeded, lastTransitionTime: "+ts(time.Second)+"}",
		"results: [{name: attempt, value: '3'}]",
		"retriesStatus:",
		"- startTime: "+ts(0),
		"  completionTime: "+ts(0),
		"  conditions: [{type: Succeeded, status: 'False', reason: Boom, message: attempt 1 failed, lastTransitionTime: "+ts(0)+"}]",
		"- startTime: "+ts(0),
		"  completionTime: "+ts(time.Second),
		"  conditions: [{type: Succeeded, status: 'False', reason: Boom, message: attempt 2 failed, lastTransitionTime: "+ts(time.Second)+"}]",
	))
}

func TestFailsWhenRetriesRunOut(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("fail")}))

	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.invocationEnds(key)
	w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Warning Boom attempt 1 failed"}})
	w.expectStatus(key, lines(
		"startTime: "+ts(0),
		"completionTime: "+ts(0),
		"conditions:",
		"- {type: Succeeded, status: 'False', reason: Boom, message: attempt 1 failed, lastTransitionTime: "+ts(0)+"}",
	))
}

func TestTimeout(t *testing.T) {
	t.Run("the host stops the invocation at the deadline", func(t *testing.T) {
		w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
		key := w.create(run("r", []string{mode("hang")}, "  timeout: 500ms"))
		w.expect(w.reconcile(key), outcome{requeue: 500 * time.Millisecond})
		start := time.Now()
		w.invocationEnds(key)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the invocation ran %s past a 500ms timeout", d)
		}
		w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{`Warning CustomRunTimedOut CustomRun "r" timed out after 500ms (attempt 1 of 1)`}})
		w.expectStatus(key, lines(
			"startTime: "+ts(0),
			"completionTime: "+ts(0),
			"conditions:",
			`- {type: Succeeded, status: 'False', reason: CustomRunTimedOut, message: 'CustomRun "r" timed out after 500ms (attempt 1 of 1)', lastTransitionTime: `+ts(0)+"}",
		))
	})
	t.Run("the deadline passes before the invocation ends", func(t *testing.T) {
		w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
		key := w.create(run("r", []string{mode("hang")}, "  timeout: 1m"))
		w.expect(w.reconcile(key), outcome{requeue: statusDelay})
		w.clock.Step(time.Minute)
		w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{`Warning CustomRunTimedOut CustomRun "r" timed out after 1m0s (attempt 1 of 1)`}})
		w.invocationEnds(key) // cancelled
		w.expectStatus(key, lines(
			"startTime: "+ts(0),
			"completionTime: "+ts(time.Minute),
			"conditions:",
			`- {type: Succeeded, status: 'False', reason: CustomRunTimedOut, message: 'CustomRun "r" timed out after 1m0s (attempt 1 of 1)', lastTransitionTime: `+ts(time.Minute)+"}",
		))
	})
	t.Run("the plugin's default timeout applies", func(t *testing.T) {
		w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "limits: {timeout: 10s}\n")))
		key := w.create(run("r", []string{mode("hang")}))
		w.expect(w.reconcile(key), outcome{requeue: statusDelay})
		w.clock.Step(10 * time.Second)
		w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{`Warning CustomRunTimedOut CustomRun "r" timed out after 10s (attempt 1 of 1)`}})
		w.invocationEnds(key)
	})
}

// TestCancelStopsTheInvocation: no call of the attempt answered Running,
// so there is no clean-up call either: the run ends at once.
func TestCancelStopsTheInvocation(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("hang")}, "  timeout: 1h"))
	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.clock.Step(statusDelay)
	w.expect(w.reconcile(key), outcome{requeue: time.Hour - statusDelay, writes: 1, events: []string{"Normal Started Attempt 1 of 1 started"}})

	w.patch(key, func(r *v1beta1.CustomRun) {
		r.Spec.Status = v1beta1.CustomRunSpecStatusCancelled
		r.Spec.StatusMessage = "PipelineRun p was cancelled"
	})
	start := time.Now()
	w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Warning CustomRunCancelled PipelineRun p was cancelled"}})
	w.invocationEnds(key)
	if d := time.Since(start); d > time.Second {
		t.Errorf("the invocation ran %s after the run was cancelled", d)
	}
	w.expectStatus(key, lines(
		"startTime: "+ts(0),
		"completionTime: "+ts(statusDelay),
		"conditions:",
		"- {type: Succeeded, status: 'False', reason: CustomRunCancelled, message: PipelineRun p was cancelled, lastTransitionTime: "+ts(statusDelay)+"}",
	))
}

func TestRunningWaitsWithoutASandbox(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("poll"), "{name: every, value: 30s}", "{name: calls, value: '2'}"}, "  timeout: 1h"))

	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.invocationEnds(key)
	w.expect(w.reconcile(key), outcome{requeue: 30 * time.Second, writes: 1, events: []string{"Normal Started Attempt 1 of 1 started"}})
	w.expectStatus(key, lines(
		"startTime: "+ts(0),
		"conditions:",
		"- {type: Succeeded, status: Unknown, reason: Polling, message: call 1, lastTransitionTime: "+ts(0)+"}",
		`extraFields: {calls: 1}`,
	))
	if st := w.state(key); st.job != nil || st.status.held != nil || !equality.Semantic.DeepEqual(st.status.stored, v1beta1.CustomRunStatus{}) {
		t.Fatal("a job or a status is kept while the run waits")
	}
	// Reconciled before requeueAfter (its own status update): no call.
	w.clock.Step(10 * time.Second)
	w.expect(w.reconcile(key), outcome{requeue: 20 * time.Second})

	w.clock.Step(20 * time.Second)
	w.expect(w.reconcile(key), outcome{requeue: time.Hour - 30*time.Second})
	w.invocationEnds(key)
	w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Normal Succeeded CustomRun succeeded"}})
	w.expectStatus(key, lines(
		"startTime: "+ts(0),
		"completionTime: "+ts(30*time.Second),
		"conditions:",
		"- {type: Succeeded, status: 'True', reason: Succeeded, lastTransitionTime: "+ts(30*time.Second)+"}",
		"results: [{name: calls, value: '2'}]",
	))
}

func TestOwnership(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	other := w.create(lines(
		"metadata: {name: other, namespace: ns, uid: uid-other}",
		"spec:",
		"  customRef: {apiVersion: example.dev/v1, kind: Approval}",
	))
	w.expect(w.reconcile(other), outcome{requeue: -1})
	if s := w.get(other).Status; s.StartTime != nil || len(s.Conditions) != 0 {
		t.Fatalf("a run of an unregistered kind got a status: %+v", s)
	}
	if w.r.Owns(w.get(other)) {
		t.Error("Owns accepts a run of an unregistered kind")
	}
	if !w.r.Owns(w.get(w.create(run("mine", []string{mode("echo")})))) {
		t.Error("Owns refuses a run of a registered kind")
	}
}

func TestPluginUnavailable(t *testing.T) {
	module := testPlugin(t)
	bigmem := wasmtest.WAT(t, "../registry/testdata/bigmem.wat")
	broken := func(name, manifestYAML string, module []byte) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: name, Labels: map[string]string{manifest.PluginLabel: manifest.PluginLabelValue}},
			Data:       map[string]string{manifest.ManifestKey: manifestYAML},
			BinaryData: map[string][]byte{"plugin.wasm": module},
		}
	}
	const head = "name: broken\napiVersion: " + testAPI + "\nkind: Broken\n"
	for _, tc := range []struct {
		name    string
		objects []*corev1.ConfigMap
		want    string // the condition message (prefix)
	}{{
		name:    "not a wasm module",
		objects: []*corev1.ConfigMap{broken("broken", head+"module: plugin.wasm\n", []byte("MZ\x90\x00"))},
		want:    `ConfigMap tekton-wasm/broken: plugin "broken": module "plugin.wasm" is not a WebAssembly module (no \0asm header); build it for wasip1 (GOOS=wasip1 GOARCH=wasm, wasm32-wasi)`,
	}, {
		name:    "digest mismatch",
		objects: []*corev1.ConfigMap{broken("broken", head+"module: plugin.wasm\nsha256: '"+strings.Repeat("1", 64)+"'\n", module)},
		want:    `ConfigMap tekton-wasm/broken: plugin "broken": module "plugin.wasm" has sha256 ` + wasmmodule.Digest(module) + " but the manifest pins " + strings.Repeat("1", 64),
	}, {
		name:    "two ConfigMaps claim the kind",
		objects: []*corev1.ConfigMap{broken("broken", head+"module: plugin.wasm\n", module), broken("broken-too", head+"module: plugin.wasm\n", module)},
		want:    "ConfigMaps tekton-wasm/broken and tekton-wasm/broken-too all serve Broken (" + testAPI + "); delete all but one",
	}, {
		name:    "missing fields",
		objects: []*corev1.ConfigMap{broken("broken", head, module)},
		want:    `ConfigMap tekton-wasm/broken: plugin manifest "broken" is missing module`,
	}, {
		name:    "does not compile",
		objects: []*corev1.ConfigMap{broken("broken", head+"module: plugin.wasm\n", []byte("\x00asm\x01\x00\x00\x00\x01\xff"))},
		want:    `ConfigMap tekton-wasm/broken: plugin "broken": the plugin module does not compile: `,
	}, {
		name:    "memory minimum above its limit",
		objects: []*corev1.ConfigMap{broken("broken", head+"module: plugin.wasm\nlimits: {memory: 8Mi}\n", bigmem)},
		want:    `ConfigMap tekton-wasm/broken: plugin "broken": the plugin module does not compile: section memory: min 2000 pages (125 Mi) over limit of 128 pages (8 Mi)`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{pluginConfigMap(t, "test", "Test", "")}
			for _, o := range tc.objects {
				objs = append(objs, o)
			}
			w := newWorld(t, withObjects(objs...))
			key := w.create(lines(
				"metadata: {name: r, namespace: ns, uid: uid-r}",
				"spec:",
				"  customRef: {apiVersion: "+testAPI+", kind: Broken}",
			))
			got := w.reconcile(key)
			if got.writes != 1 || len(got.events) != 1 || !strings.HasPrefix(got.events[0], "Warning PluginUnavailable "+tc.want) {
				t.Fatalf("reconcile: %+v\nwant one write and the event Warning PluginUnavailable %s", got, tc.want)
			}
			c := w.get(key).Status.Conditions[0]
			if c.Status != corev1.ConditionFalse || c.Reason != ReasonPluginUnavailable || c.Message != strings.TrimPrefix(got.events[0], "Warning PluginUnavailable ") {
				t.Errorf("condition %+v", c)
			}
			// Every other plugin keeps working.
			ok := w.create(run("ok", []string{mode("echo")}))
			w.reconcile(ok)
			w.invocationEnds(ok)
			if got := w.reconcile(ok); got.writes != 1 || !w.get(ok).IsSuccessful() {
				t.Errorf("a run of a healthy plugin: %+v", w.get(ok).Status)
			}
		})
	}
}

// finish reconciles key until its invocation has ended and its outcome is
// stored, and returns the stored run.
func (w *world) finish(key types.NamespacedName) *v1beta1.CustomRun {
	w.t.Helper()
	w.reconcile(key)
	w.invocationEnds(key)
	if got := w.reconcile(key); got.err != nil || got.writes != 1 {
		w.t.Fatalf("recording the outcome: %+v", got)
	}
	return w.get(key)
}

// results returns a run's results by name.
func results(run *v1beta1.CustomRun) map[string]string {
	out := map[string]string{}
	for _, r := range run.Status.Results {
		out[r.Name] = r.Value
	}
	return out
}

func testTask(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": testAPI, "kind": "Test",
		"metadata": map[string]any{"name": name, "namespace": "ns"},
		"spec":     spec,
	}}
}

func TestSpecResolution(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  string
		want map[string]string // results ref, spec, labels; or the failure
	}{{
		name: "named customRef: the object's spec",
		run: lines("metadata: {name: r, namespace: ns, uid: u}", "spec:",
			"  customRef: {apiVersion: "+testAPI+", kind: Test, name: five}", "  params: ["+mode("echo")+"]"),
		want: map[string]string{"ref": "five", "spec": `{"seconds":5}`, "labels": ""},
	}, {
		name: "unnamed customRef: no spec",
		run:  run("r", []string{mode("echo")}),
		want: map[string]string{"ref": "", "spec": "", "labels": ""},
	}, {
		name: "customSpec: its spec and metadata",
		run: lines("metadata: {name: r, namespace: ns, uid: u}", "spec:",
			"  customSpec: {apiVersion: "+testAPI+", kind: Test, spec: {seconds: 7}, metadata: {labels: {team: a}}}",
			"  params: ["+mode("echo")+"]"),
		want: map[string]string{"ref": "", "spec": `{"seconds":7}`, "labels": `{"team":"a"}`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")),
				withCustomTasks(testTask("five", map[string]any{"seconds": int64(5)})), allowing("tests/five"))
			got := results(w.finish(w.create(tc.run)))
			delete(got, "attempt")
			delete(got, "files")
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("results (-want +got):\n%s", d)
			}
		})
	}
}

func TestSpecResolutionFailures(t *testing.T) {
	for _, tc := range []struct {
		name, ref, sa, event string
	}{{
		name:  "missing object",
		ref:   "{apiVersion: " + testAPI + ", kind: Test, name: absent}",
		event: `Warning CustomTaskNotFound Test "absent" (` + testAPI + `) does not exist in namespace "ns"`,
	}, {
		name: "object the service account may not get",
		ref:  "{apiVersion: " + testAPI + ", kind: Test, name: six}",
		sa:   "builder",
		event: `Warning CustomTaskForbidden customRef Test "six": service account "builder" may not get tests.` + testGVR.Group + ` "six" in namespace "ns"; ` +
			`bind it to a Role with the rule {apiGroups: ["` + testGVR.Group + `"], resources: [tests], verbs: [get], resourceNames: [six]}`,
	}, {
		name: "service account that does not exist",
		ref:  "{apiVersion: " + testAPI + ", kind: Test, name: five}",
		sa:   "deleted",
		event: `Warning ServiceAccountNotFound customRef Test "five": service account "deleted" does not exist in namespace "ns"; ` +
			`create it, or set the run's serviceAccountName to an account that exists (the default is "default")`,
	}, {
		name:  "kind without a CRD",
		ref:   "{apiVersion: " + testAPI + ", kind: Uninstalled, name: x}",
		event: "Warning CustomTaskNotFound the cluster serves no kind Uninstalled in " + testAPI + "; install the custom task's CRD, or use an unnamed customRef or a customSpec",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", ""), pluginConfigMap(t, "uninstalled", "Uninstalled", "")),
				withCustomTasks(testTask("five", map[string]any{"seconds": int64(5)}), testTask("six", map[string]any{"seconds": int64(6)})),
				allowing("tests/absent", "tests/five"))
			key := w.create(lines("metadata: {name: r, namespace: ns, uid: u}", "spec:", "  customRef: "+tc.ref, "  serviceAccountName: "+tc.sa))
			w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{tc.event}})
			if c := w.get(key).Status.Conditions[0]; c.Status != corev1.ConditionFalse || len(w.get(key).Status.RetriesStatus) != 0 {
				t.Errorf("condition %+v", c)
			}
		})
	}
}

func TestWorkspaces(t *testing.T) {
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "settings"}, Data: map[string]string{"greeting": "hello"}}
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "token"}, Data: map[string][]byte{"token": []byte("s3cr3t")}}
	for _, tc := range []struct {
		name       string
		workspaces string
		allowed    []string
		sa         string // serviceAccountName; "" means builder
		wantFiles  string // the files result
		wantEvent  string // a failure instead
		early      bool   // the failure comes before the invocation has a slot
	}{{
		name:       "emptyDir: private and writable",
		workspaces: "[{name: scratch, emptyDir: {}}]",
		wantFiles:  "/workspace/scratch/written=ok",
	}, {
		name:       "configMap and secret the service account may read",
		workspaces: "[{name: conf, configMap: {name: settings}}, {name: creds, secret: {secretName: token}}]",
		allowed:    []string{"configmaps/settings", "secrets/token"},
		wantFiles:  "/workspace/conf/greeting=hello,/workspace/creds/token=s3cr3t",
	}, {
		name:       "secret the service account may not read",
		workspaces: "[{name: conf, configMap: {name: settings}}, {name: creds, secret: {secretName: token}}]",
		allowed:    []string{"configmaps/settings"},
		wantEvent: `Warning WorkspaceForbidden workspace "creds": service account "builder" may not get secrets "token" in namespace "ns"; ` +
			`bind it to a Role with the rule {apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [token]}`,
	}, {
		name:       "service account that does not exist",
		workspaces: "[{name: conf, configMap: {name: settings}}]",
		allowed:    []string{"configmaps/settings"},
		sa:         "deleted",
		wantEvent: `Warning ServiceAccountNotFound workspace "conf": service account "deleted" does not exist in namespace "ns"; ` +
			`create it, or set the run's serviceAccountName to an account that exists (the default is "default")`,
	}, {
		name:       "unsupported volume type",
		workspaces: "[{name: scratch, emptyDir: {}}, {name: source, persistentVolumeClaim: {claimName: src}}]",
		wantEvent:  `Warning CustomRunWorkspaceNotSupported workspace "source" is a persistentVolumeClaim; plugins support emptyDir, configMap and secret workspaces`,
		early:      true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", ""), settings, token), allowing(tc.allowed...))
			sa := tc.sa
			if sa == "" {
				sa = "builder"
			}
			key := w.create(run("r", []string{mode("echo")}, "  serviceAccountName: "+sa, "  workspaces: "+tc.workspaces))
			if tc.early {
				// Checked as written, before the run waits for a slot.
				w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{tc.wantEvent}})
				return
			}
			if tc.wantEvent != "" {
				// Workspaces are prepared once the invocation has a slot.
				w.expect(w.reconcile(key), outcome{requeue: statusDelay})
				w.invocationEnds(key)
				w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{tc.wantEvent}})
				return
			}
			if got := results(w.finish(key))["files"]; got != tc.wantFiles {
				t.Errorf("the plugin saw files %q, want %q", got, tc.wantFiles)
			}
			if left, _ := filepath.Glob(filepath.Join(w.r.Workspaces.Dir, "*")); len(left) != 0 {
				t.Errorf("workspaces left after the invocation: %v", left)
			}
		})
	}
}

func TestRestartRecovery(t *testing.T) {
	started := func(ago string) string {
		return lines(
			"status:",
			"  startTime: "+ago,
			"  conditions: [{type: Succeeded, status: Unknown, reason: Started, lastTransitionTime: "+ago+"}]",
		)
	}
	t.Run("an attempt in flight at the restart runs again", func(t *testing.T) {
		w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
		key := w.create(run("r", []string{mode("echo")}, "  timeout: 1m", started(ts(-10*time.Second))))
		w.expect(w.reconcile(key), outcome{requeue: 50 * time.Second})
		w.invocationEnds(key)
		w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Normal Succeeded CustomRun succeeded"}})
		if run := w.get(key); !run.Status.StartTime.Time.Equal(now.Add(-10*time.Second)) || results(run)["attempt"] != "1" {
			t.Errorf("status %+v", run.Status)
		}
	})
	t.Run("an attempt past its deadline times out without a call", func(t *testing.T) {
		w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
		key := w.create(run("r", []string{mode("echo")}, "  timeout: 1m", started(ts(-2*time.Minute))))
		w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{`Warning CustomRunTimedOut CustomRun "r" timed out after 1m0s (attempt 1 of 1)`}})
		select {
		case k := <-w.ended:
			t.Fatalf("invoked %s", k)
		case <-time.After(100 * time.Millisecond):
		}
	})
}

func TestStaleInformerCopyIsIgnored(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("echo")}))
	old := w.get(key)
	w.finish(key)
	// The informer still holds the copy our write replaced.
	if err := w.indexer.Update(old); err != nil {
		t.Fatal(err)
	}
	w.pipeline.ClearActions()
	if err := w.rec.Reconcile(w.ctx, key.String()); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-w.ended:
		t.Fatalf("a stale copy invoked %s again", k)
	case <-time.After(100 * time.Millisecond):
	}
	if n := len(w.pipeline.Actions()); n != 0 {
		t.Errorf("a stale copy caused %d API calls", n)
	}
}

func TestConflictKeepsTheOutcome(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("echo")}))
	w.reconcile(key)
	w.invocationEnds(key)
	// Someone else wrote the run meanwhile; the informer has not seen it.
	w.patch(key, func(r *v1beta1.CustomRun) { r.Labels = map[string]string{"touched": "yes"} })
	if err := w.indexer.Update(parseRun(t, run("r", []string{mode("echo")}))); err != nil {
		t.Fatal(err)
	}
	if got := w.reconcile(key); !apierrors.IsConflict(got.err) {
		t.Fatalf("reconcile: %+v, want a conflict", got)
	}
	// Retried with the fresh copy: the outcome is stored, without a new call.
	w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Normal Succeeded CustomRun succeeded"}})
	select {
	case k := <-w.ended:
		t.Fatalf("invoked %s again", k)
	default:
	}
}

func TestRejectedStatusEndsTheRun(t *testing.T) {
	gr := v1beta1.Resource("customruns")
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"413 too large", apierrors.NewRequestEntityTooLargeError("limit is 3145728")},
		{"422 invalid", apierrors.NewInvalid(v1beta1.SchemeGroupVersion.WithKind("CustomRun").GroupKind(), "r", nil)},
		{"400 bad request", apierrors.NewBadRequest("number 1e400 out of range")},
		{"403 denied by a webhook", apierrors.NewForbidden(gr, "r", errors.New("admission webhook denied the request"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
			w.pipeline.PrependReactor("update", "customruns", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if len(a.(k8stesting.UpdateAction).GetObject().(*v1beta1.CustomRun).Status.Results) > 0 {
					return true, nil, tc.err
				}
				return false, nil, nil
			})
			key := w.create(run("r", []string{mode("echo")}))
			w.reconcile(key)
			w.invocationEnds(key)
			msg := "the apiserver refused the run's status: " + tc.err.Error()
			w.expect(w.reconcile(key), outcome{requeue: -1, writes: 2, events: []string{"Warning StatusUpdateRejected " + msg}})
			c := w.get(key).Status.GetCondition(apis.ConditionSucceeded)
			if !c.IsFalse() || c.Reason != ReasonStatusRejected || c.Message != msg {
				t.Errorf("condition %+v", c)
			}
		})
	}
}

// A 4xx that says the write may succeed later is returned for a retry,
// and the run keeps its outcome.
func TestRetriableStatusErrors(t *testing.T) {
	gr := v1beta1.Resource("customruns")
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"409 conflict", apierrors.NewConflict(gr, "r", errors.New("the object has been modified"))},
		{"429 throttled", apierrors.NewTooManyRequests("slow down", 1)},
		{"401 unauthorized", apierrors.NewUnauthorized("token expired")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
			failing := true
			w.pipeline.PrependReactor("update", "customruns", func(k8stesting.Action) (bool, runtime.Object, error) {
				if failing {
					return true, nil, tc.err
				}
				return false, nil, nil
			})
			key := w.create(run("r", []string{mode("echo")}))
			w.reconcile(key)
			w.invocationEnds(key)
			if got := w.reconcile(key); got.err == nil || got.err.Error() != tc.err.Error() || got.writes != 1 || w.get(key).IsDone() {
				t.Fatalf("reconcile: %+v, want the error %v returned", got, tc.err)
			}
			failing = false
			w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Normal Succeeded CustomRun succeeded"}})
		})
	}
}

// A plugin ConfigMap claims a kind another controller serves: a run whose
// status that controller wrote is left alone (no write, no call), with one
// Warning Event; our own writes carry our field manager.
func TestStatusWrittenByAnotherController(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	owned := func(name, manager, subresource, fields string) string {
		return lines(
			"metadata:",
			"  name: "+name,
			"  namespace: ns",
			"  uid: uid-"+name,
			"  managedFields:",
			"  - {manager: "+manager+", operation: Update, apiVersion: tekton.dev/v1beta1, fieldsType: FieldsV1, subresource: '"+subresource+"', fieldsV1: "+fields+"}",
			"spec:",
			"  customRef: {apiVersion: "+testAPI+", kind: Test}",
			"  params: ["+mode("echo")+"]",
		)
	}
	theirs := w.create(owned("theirs", "tekton-pipelines-controller", "status",
		`{"f:status": {".": {}, "f:conditions": {}}}`))
	w.expect(w.reconcile(theirs), outcome{requeue: -1, events: []string{
		`Warning StatusOwnedByAnotherController "tekton-pipelines-controller" writes the status of this CustomRun: another controller serves kind Test (` +
			testAPI + `), which the plugin ConfigMap tekton-wasm/test claims too; tekton-wasm-controller leaves the run alone. ` +
			"Delete that ConfigMap, or stop the other controller, so that one controller serves the kind"}})
	w.expect(w.reconcile(theirs), outcome{requeue: -1}) // reported once
	select {
	case k := <-w.ended:
		t.Fatalf("invoked %s", k)
	case <-time.After(100 * time.Millisecond):
	}

	// Written in the main resource (no status subresource), too.
	mainResource := w.create(owned("main", "other-controller", "", `{"f:status": {"f:startTime": {}}}`))
	if got := w.reconcile(mainResource); got.writes != 0 || len(got.events) != 1 {
		t.Errorf("reconcile: %+v, want no write and one event", got)
	}

	// A manager that set only the spec (a user, Tekton creating the run)
	// does not own the status; nor do our own past writes.
	mine := w.create(owned("mine", "kubectl-client-side-apply", "", `{"f:spec": {"f:params": {}}, "f:status": {".": {}}}`))
	w.reconcile(mine)
	w.invocationEnds(mine)
	w.pipeline.ClearActions()
	if got := w.reconcile(mine); got.writes != 1 || !w.get(mine).IsSuccessful() {
		t.Fatalf("reconcile: %+v, status %+v", got, w.get(mine).Status)
	}
	ours := w.create(owned("ours", AgentName, "status", `{"f:status": {"f:conditions": {}}}`))
	w.reconcile(ours)
	w.invocationEnds(ours)
	w.pipeline.ClearActions()
	if err := w.rec.Reconcile(w.ctx, ours.String()); err != nil {
		t.Fatal(err)
	}
	for _, a := range w.pipeline.Actions() {
		if u, ok := a.(k8stesting.UpdateActionImpl); ok && u.UpdateOptions.FieldManager != AgentName {
			t.Errorf("status written with field manager %q, want %q", u.UpdateOptions.FieldManager, AgentName)
		}
	}
	if !w.get(ours).IsSuccessful() {
		t.Errorf("our own run: %+v", w.get(ours).Status)
	}
}

// The informer's transform keeps of a run's managedFields what tells
// whether another controller writes its status, and nothing else.
func TestTrimManagedFields(t *testing.T) {
	entry := func(manager, subresource, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate,
			Subresource: subresource, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
	}
	creator := entry("kubectl-client-side-apply", "", `{"f:spec": {"f:params": {}}, "f:status": {".": {}}}`)
	ours := entry(AgentName, "status", `{"f:status": {"f:conditions": {}}}`)
	theirStatus := entry("tekton-pipelines-controller", "status", `{"f:status": {"f:conditions": {}}}`)
	theirMain := entry("other-controller", "", `{"f:status": {"f:startTime": {}}}`)
	for _, tc := range []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		keep    []string // the managers kept
	}{
		{"none", nil, nil},
		{"created by a user, written by us", []metav1.ManagedFieldsEntry{creator, ours}, nil},
		{"status written by another controller", []metav1.ManagedFieldsEntry{creator, theirStatus, ours}, []string{"tekton-pipelines-controller"}},
		{"status written in the main resource", []metav1.ManagedFieldsEntry{creator, theirMain}, []string{"other-controller"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := &v1beta1.CustomRun{ObjectMeta: metav1.ObjectMeta{ManagedFields: tc.entries}}
			want := otherStatusWriter(run.DeepCopy())
			out, err := TrimManagedFields(run.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			trimmed := out.(*v1beta1.CustomRun)
			var kept []string
			for _, mf := range trimmed.ManagedFields {
				kept = append(kept, mf.Manager)
				if mf.Subresource == "status" && mf.FieldsV1 != nil {
					t.Errorf("%s: the field set of a status subresource write was kept", mf.Manager)
				}
			}
			if !slices.Equal(kept, tc.keep) {
				t.Errorf("kept %v; want %v", kept, tc.keep)
			}
			if got := otherStatusWriter(trimmed); got != want {
				t.Errorf("otherStatusWriter after trimming = %q; before = %q", got, want)
			}
		})
	}
	if out, err := TrimManagedFields("not a run"); out != "not a run" || err != nil {
		t.Errorf("TrimManagedFields of another object = %v, %v; want it unchanged", out, err)
	}
}

// Workspaces are prepared once the invocation has a slot: a queued run
// holds no files.
func TestQueuedRunHoldsNoWorkspace(t *testing.T) {
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "settings"}, Data: map[string]string{"greeting": "hello"}}
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "limits: {concurrency: 1}\n"), settings), allowing("configmaps/settings"))
	busy := w.create(run("busy", []string{mode("hang")}, "  timeout: 1h"))
	queued := w.create(run("queued", []string{mode("echo")}, "  serviceAccountName: builder",
		"  workspaces: [{name: conf, configMap: {name: settings}}, {name: scratch, emptyDir: {}}]"))
	w.reconcile(busy)
	waitFor(t, "the busy run's invocation to start", func() bool { _, active := w.r.Dispatcher.Counts(); return active == 1 })
	w.reconcile(queued)
	waitFor(t, "the run to queue", func() bool { queued, _ := w.r.Dispatcher.Counts(); return queued == 1 })
	if left, _ := filepath.Glob(filepath.Join(w.r.Workspaces.Dir, "*")); len(left) != 0 {
		t.Errorf("a queued run holds workspaces: %v", left)
	}
	// The busy run is cancelled: the queued one runs, with its files.
	w.patch(busy, func(r *v1beta1.CustomRun) { r.Spec.Status = v1beta1.CustomRunSpecStatusCancelled })
	w.reconcile(busy)
	w.invocationEnds(busy)
	w.invocationEnds(queued)
	w.reconcile(queued)
	if got := results(w.get(queued))["files"]; got != "/workspace/conf/greeting=hello,/workspace/scratch/written=ok" {
		t.Errorf("the plugin saw files %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(w.r.Workspaces.Dir, "*")); len(left) != 0 {
		t.Errorf("workspaces left after the invocation: %v", left)
	}
}

func TestQueuedRunKeepsItsDeadline(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "limits: {concurrency: 1}\n")))
	busy := w.create(run("busy", []string{mode("hang")}, "  timeout: 1h"))
	queued := w.create(run("queued", []string{mode("echo")}, "  timeout: 300ms"))
	w.reconcile(busy)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if _, active := w.r.Dispatcher.Counts(); active == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the busy run's invocation did not start")
		}
	}
	w.reconcile(queued)
	w.invocationEnds(queued)
	w.expect(w.reconcile(queued), outcome{requeue: -1, writes: 1, events: []string{`Warning CustomRunTimedOut CustomRun "queued" timed out after 300ms (attempt 1 of 1)`}})
	// Deleting the busy run stops its invocation.
	if err := w.pipeline.TektonV1beta1().CustomRuns("ns").Delete(w.ctx, busy.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.indexer.Delete(&v1beta1.CustomRun{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "busy"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.rec.Reconcile(w.ctx, busy.String()); err != nil {
		t.Fatal(err)
	}
	w.invocationEnds(busy)
}

func TestDemoteStopsInvocations(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("hang")}, "  timeout: 1h"))
	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.r.Demote(pkgreconciler.UniversalBucket())
	w.invocationEnds(key)
	if w.r.runs.Has(key) {
		t.Error("the state of a run in a lost bucket is kept")
	}
}

// Leadership of a bucket is lost while its runs are being reconciled:
// Demote runs on the leader elector's goroutine, concurrently with the
// workers. No data race (the package runs under -race), and every
// invocation that started ends: none is left running unowned.
func TestDemoteDuringReconciles(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	var keys []types.NamespacedName
	for i := range 8 {
		keys = append(keys, w.create(run(fmt.Sprintf("r%d", i), []string{mode("hang")}, "  timeout: 1h")))
	}
	leader := w.rec.(pkgreconciler.LeaderAware)
	for round := range 5 {
		var started atomic.Int32
		var wg sync.WaitGroup
		for _, key := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, d := controller.IsRequeueKey(w.rec.Reconcile(w.ctx, key.String())); ok && d == statusDelay {
					started.Add(1) // an invocation started
				}
			}()
		}
		leader.Demote(pkgreconciler.UniversalBucket())
		wg.Wait()
		for i := range started.Load() {
			select {
			case <-w.ended:
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: %d of %d invocations still run after the demotion", round, started.Load()-i, started.Load())
			}
		}
		for _, key := range keys {
			if w.r.runs.Has(key) {
				t.Errorf("round %d: the state of %s is kept after the demotion", round, key)
			}
		}
		if err := leader.Promote(pkgreconciler.UniversalBucket(), func(pkgreconciler.Bucket, types.NamespacedName) {}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPluginLogAtDebugLevel(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := &lineLogger{logger: zap.New(core).Sugar()}
	for _, chunk := range []string{"first li", "ne\nsecond\n\nthird ", "without newline"} {
		if _, err := l.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	l.flush()
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.ContextMap()["line"].(string))
	}
	if d := cmp.Diff([]string{"first line", "second", "third without newline"}, got); d != "" {
		t.Errorf("log lines (-want +got):\n%s", d)
	}
}
