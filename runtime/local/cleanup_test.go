package local

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"k8s.io/utils/clock"
)

// logWatch is the runner's Log: it keeps the plugin's log and calls
// onStart once a second call logged that it started its job: the first
// call's Running answer has been recorded by then (the second call is
// interrupted before it answers).
type logWatch struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	onStart func()
}

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.onStart != nil && strings.Count(l.buf.String(), "started job-1\n") == 2 {
		l.onStart()
		l.onStart = nil
	}
	return len(p), nil
}

func (l *logWatch) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSuffix(l.buf.String(), "\n"), "\n")
}

// Interrupting the runner after a call answered Running cancels the run,
// after one clean-up call that the interruption does not stop; its
// answer does not change the outcome.
func TestRunCleanupOnInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &logWatch{onStart: cancel}
	r := &Runner{Machine: &lifecycle.Machine{Clock: clock.RealClock{}}, Plugin: plugin(t), Log: log}
	run := testRun(t, "  params: [{name: mode, value: cleanup}, {name: every, value: 100ms}]\n  timeout: 1h")
	if err := r.Run(ctx, run); err != nil {
		t.Fatal(err)
	}
	c := succeeded(run)
	if d := cmp.Diff([]string{"False", lifecycle.ReasonCancelled, CancelMessage}, []string{string(c.Status), c.Reason, c.Message}); d != "" {
		t.Errorf("condition (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"[attempt 1] started job-1", "[attempt 1] started job-1", `[attempt 1 clean-up] clean-up Cancelled {"started":"job-1"}`}, log.lines()); d != "" {
		t.Errorf("plugin log (-want +got):\n%s", d)
	}
}

// An attempt that times out after a Running answer is cleaned up, and
// ends CustomRunTimedOut.
func TestRunCleanupOnTimeout(t *testing.T) {
	log := &logWatch{}
	r := &Runner{Machine: &lifecycle.Machine{Clock: clock.RealClock{}}, Plugin: plugin(t), Log: log}
	run := testRun(t, "  params: [{name: mode, value: cleanup}]\n  timeout: 200ms")
	if err := r.Run(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if c := succeeded(run); c.Reason != lifecycle.ReasonTimedOut {
		t.Errorf("the run ended %s: %s", c.Reason, c.Message)
	}
	if d := cmp.Diff([]string{"[attempt 1] started job-1", `[attempt 1 clean-up] clean-up TimedOut {"started":"job-1"}`}, log.lines()); d != "" {
		t.Errorf("plugin log (-want +got):\n%s", d)
	}
}

// A clean-up call that hangs is stopped at the grace period.
func TestRunCleanupStoppedAtGracePeriod(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &logWatch{onStart: cancel}
	r := &Runner{Machine: &lifecycle.Machine{Clock: clock.RealClock{}, CleanupGrace: 300 * time.Millisecond}, Plugin: plugin(t), Log: log}
	run := testRun(t, "  params: [{name: mode, value: cleanup}, {name: every, value: 100ms}, {name: hangInCleanup, value: 'true'}]\n  timeout: 1h")
	start := time.Now()
	if err := r.Run(ctx, run); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run took %s with a clean-up call hanging past a 300ms grace period", d)
	}
	if c := succeeded(run); c.Reason != lifecycle.ReasonCancelled {
		t.Errorf("the run ended %s: %s", c.Reason, c.Message)
	}
	if got := log.lines(); len(got) != 3 {
		t.Errorf("plugin log %q, want two calls' and the clean-up call's", got)
	}
}
