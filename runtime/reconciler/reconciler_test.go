package reconciler

import (
	"strings"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
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
	if w.r.runs.runs[key].job != nil {
		t.Fatal("a job is held while the run waits")
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
		want:    `ConfigMap tekton-wasm/broken: plugin "broken": module "plugin.wasm" has sha256 ` + manifest.Digest(module) + " but the manifest pins " + strings.Repeat("1", 64),
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
