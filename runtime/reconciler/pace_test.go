package reconciler

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// pollRun is a run whose plugin answers Running with the shortest
// requeueAfter for 100 calls.
func pollRun(name string) string {
	return run(name, []string{mode("poll"), "{name: every, value: 100ms}", "{name: calls, value: '100'}"}, "  timeout: 1h")
}

// call reconciles key, which must start an invocation, and records its
// Running answer; it returns the requeue that follows.
func (w *world) call(key types.NamespacedName) time.Duration {
	w.t.Helper()
	if got := w.reconcile(key); got.requeue < time.Minute && got.requeue != statusDelay {
		w.t.Fatalf("reconcile: %+v, want an invocation started", got)
	}
	w.invocationEnds(key)
	got := w.reconcile(key)
	if got.err != nil || got.writes != 1 {
		w.t.Fatalf("recording the answer: %+v", got)
	}
	return got.requeue
}

// expectPaced reconciles key, due for a call, and checks that the call is
// held back: no invocation, a requeue longer than the plugin asked for.
func (w *world) expectPaced(key types.NamespacedName) time.Duration {
	w.t.Helper()
	got := w.reconcile(key)
	if got.writes != 0 || got.requeue <= 100*time.Millisecond || got.requeue > time.Second {
		w.t.Fatalf("reconcile: %+v, want the call held back up to a second", got)
	}
	select {
	case k := <-w.ended:
		w.t.Fatalf("invoked %s", k)
	case <-time.After(50 * time.Millisecond):
	}
	return got.requeue
}

// A run answering Running with the shortest requeueAfter is called at its
// pace once its burst is spent, not every 100ms.
func TestRunCallsArePaced(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	w.r.RunPace = Pace{QPS: 1, Burst: 2}
	key := w.create(pollRun("r"))
	if d := w.call(key); d != 100*time.Millisecond { // the first call takes no token
		t.Fatalf("requeue %s after the first call, want the plugin's 100ms", d)
	}
	for range 2 { // the burst
		w.clock.Step(100 * time.Millisecond)
		w.call(key)
	}
	w.clock.Step(100 * time.Millisecond)
	wait := w.expectPaced(key)
	w.clock.Step(wait)
	w.call(key) // due now
}

// The runs of one plugin share its pace: once one run has taken the
// plugin's token, another run's call waits for the next.
func TestPluginCallsArePaced(t *testing.T) {
	w := newWorld(t, withObjects(pluginConfigMap(t, "test", "Test", "")))
	w.r.PluginPace = Pace{QPS: 1, Burst: 1}
	a, b := w.create(pollRun("a")), w.create(pollRun("b"))
	w.call(a)
	w.call(b)
	w.clock.Step(100 * time.Millisecond)
	w.call(a)
	wait := w.expectPaced(b)
	w.clock.Step(wait)
	w.call(b)
}
