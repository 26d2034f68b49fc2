package reconciler

import (
	"slices"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
)

// startJob runs the first call of a run in the test plugin's cleanup
// mode, which answers Running (it started job-1), and stores it.
func startJob(w *world, key types.NamespacedName, wait time.Duration) {
	w.t.Helper()
	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.invocationEnds(key)
	w.expect(w.reconcile(key), outcome{requeue: wait, writes: 1, events: []string{"Normal Started Attempt 1 of 1 started"}})
}

func cancel(w *world, key types.NamespacedName) {
	w.patch(key, func(r *v1beta1.CustomRun) {
		r.Spec.Status = v1beta1.CustomRunSpecStatusCancelled
		r.Spec.StatusMessage = "PipelineRun p was cancelled"
	})
}

// Cancelled after a call answered Running: one clean-up call, marked
// Cancelled and given the Running answer's extraFields; its answer does
// not change the outcome.
func TestCleanupOnCancel(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("cleanup"), "{name: every, value: 30s}"}, "  timeout: 1h"))
	startJob(w, key, 30*time.Second)
	cancel(w, key)
	w.clock.Step(time.Second)
	w.expect(w.reconcile(key), outcome{requeue: lifecycle.DefaultCleanupGrace}) // the clean-up call runs; the outcome waits for it
	w.invocationEnds(key)
	w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Warning CustomRunCancelled PipelineRun p was cancelled"}})
	if got, want := w.pluginLog(), []string{"started job-1", `clean-up Cancelled {"started":"job-1"}`}; !slices.Equal(got, want) {
		t.Errorf("plugin log %q, want %q", got, want)
	}
	w.expectStatus(key, lines(
		"startTime: "+ts(0),
		"completionTime: "+ts(time.Second),
		"conditions:",
		"- {type: Succeeded, status: 'False', reason: CustomRunCancelled, message: PipelineRun p was cancelled, lastTransitionTime: "+ts(time.Second)+"}",
		`extraFields: {started: job-1}`,
	))
}

// An attempt timed out after a call answered Running: one clean-up call,
// marked TimedOut, and then the next attempt.
func TestCleanupOnTimeout(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	key := w.create(run("r", []string{mode("cleanup")}, "  timeout: 1m", "  retries: 1"))
	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.invocationEnds(key)
	w.expect(w.reconcile(key), outcome{requeue: time.Minute, writes: 1, events: []string{"Normal Started Attempt 1 of 2 started"}})

	w.clock.Step(time.Minute)
	w.expect(w.reconcile(key), outcome{requeue: lifecycle.DefaultCleanupGrace})
	w.invocationEnds(key)
	if got, want := w.pluginLog(), []string{"started job-1", `clean-up TimedOut {"started":"job-1"}`}; !slices.Equal(got, want) {
		t.Errorf("plugin log %q, want %q", got, want)
	}
	// The attempt ends as it would have without the clean-up, and the
	// next one is called.
	w.expect(w.reconcile(key), outcome{requeue: statusDelay})
	w.invocationEnds(key)
	w.expect(w.reconcile(key), outcome{requeue: time.Minute, writes: 1,
		events: []string{`Warning Retrying Attempt 1 of 2 failed (CustomRunTimedOut): CustomRun "r" timed out after 1m0s (attempt 1 of 2); retrying`}})
	w.expectStatus(key, lines(
		"startTime: "+ts(time.Minute),
		"conditions:",
		"- {type: Succeeded, status: Unknown, reason: JobRunning, lastTransitionTime: "+ts(time.Minute)+"}",
		`extraFields: {started: job-2}`,
		"retriesStatus:",
		"- startTime: "+ts(0),
		"  completionTime: "+ts(time.Minute),
		"  conditions:",
		`  - {type: Succeeded, status: 'False', reason: CustomRunTimedOut, message: 'CustomRun "r" timed out after 1m0s (attempt 1 of 2)', lastTransitionTime: `+ts(time.Minute)+"}",
		`  extraFields: {started: job-1}`,
	))
}

// A plugin that hangs in its clean-up call is stopped at the grace period
// (the manifest's limits.cleanup), and the run ends as cancelled.
func TestCleanupStoppedAtGracePeriod(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "limits: {cleanup: 500ms}\n")))
	key := w.create(run("r", []string{mode("cleanup"), "{name: hangInCleanup, value: 'true'}"}, "  timeout: 1h"))
	startJob(w, key, time.Hour)
	cancel(w, key)
	w.expect(w.reconcile(key), outcome{requeue: 500 * time.Millisecond})
	start := time.Now()
	w.invocationEnds(key)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the clean-up call ran %s past a 500ms grace period", d)
	}
	if got := w.pluginLog(); len(got) != 2 {
		t.Errorf("plugin log %q, want the first call's and one clean-up call's", got)
	}
	w.expect(w.reconcile(key), outcome{requeue: -1, writes: 1, events: []string{"Warning CustomRunCancelled PipelineRun p was cancelled"}})
}

// No clean-up call when no call of the attempt answered Running:
// TestCancelStopsTheInvocation (the run ends in the reconcile that sees
// the cancellation) and TestTimeout.
