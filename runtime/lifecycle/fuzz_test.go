package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/apis"
)

// FuzzMachine drives the machine through any spec (retries, timeout, both
// or neither of customRef and customSpec) and any sequence of calls,
// outcomes, clock jumps and cancellation. No call panics, none ends more
// than one attempt, Invoke always names the attempt in progress, a Wait
// never outlasts its deadline, a Cleanup comes only after a Running
// answer and within the grace period, and a run that is done stays done.
func FuzzMachine(f *testing.F) {
	f.Add(2, int64(time.Second), uint8(1), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(1_000_000, int64(1), uint8(1), []byte{0, 4, 0, 4, 0})
	f.Add(MaxRetries, int64(1), uint8(1), []byte{0, 0, 0, 4, 4, 4})
	f.Add(-1, int64(0), uint8(3), []byte{0, 2, 7})
	f.Add(3, int64(-5), uint8(0), []byte{3, 3, 8, 1, 5, 6})
	f.Add(1, int64(time.Minute), uint8(1), []byte{3, 6, 0, 0, 1, 3, 7, 4, 0, 5})
	f.Fuzz(func(t *testing.T, retries int, timeout int64, target uint8, script []byte) {
		clock := clocktesting.NewFakePassiveClock(now)
		m := &Machine{Clock: clock}
		run := &v1beta1.CustomRun{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
		run.Spec.Retries = retries
		run.Spec.Timeout = &metav1.Duration{Duration: time.Duration(timeout)}
		if target&1 != 0 {
			run.Spec.CustomRef = &v1beta1.TaskRef{APIVersion: "example.dev/v1", Kind: "Example"}
		}
		if target&2 != 0 {
			run.Spec.CustomSpec = &v1beta1.EmbeddedCustomRunSpec{TypeMeta: runtime.TypeMeta{APIVersion: "example.dev/v1", Kind: "Example"}}
		}
		act := m.Step(run, Known{})
		for i, op := range script {
			before, done := len(run.Status.RetriesStatus), run.IsDone()
			switch op % 9 {
			case 0:
				act = m.Step(run, Known{Last: act})
			case 1:
				act = m.Step(run, Known{Last: act, Outcome: &Outcome{Response: &hostabi.Response{Status: hostabi.StatusSucceeded, Results: []hostabi.Result{{Name: "a", Value: "b"}}}}})
			case 2:
				act = m.Step(run, Known{Last: act, Outcome: &Outcome{Response: &hostabi.Response{Status: hostabi.StatusFailed, Reason: "Broke"}}})
			case 3:
				act = m.Step(run, Known{Last: act, Outcome: &Outcome{Response: &hostabi.Response{Status: hostabi.StatusRunning, RequeueAfter: hostabi.Duration{Duration: time.Duration(i) * time.Second}, ExtraFields: []byte(`{"n":1}`)}}})
			case 4:
				act = m.Step(run, Known{Last: act, Outcome: &Outcome{Err: context.DeadlineExceeded}})
			case 5:
				act = m.Step(run, Known{Last: act, Outcome: &Outcome{Err: context.Canceled}})
			case 6:
				run.Spec.Status = v1beta1.CustomRunSpecStatusCancelled
			case 7:
				clock.SetTime(clock.Now().Add(time.Duration(i) * time.Millisecond))
			case 8:
				act = m.Step(run, Known{Failure: &Failure{Reason: "PluginUnavailable", Message: "gone"}})
			}
			if n := len(run.Status.RetriesStatus) - before; n > 1 || n < 0 {
				t.Fatalf("op %d (%d) changed retriesStatus by %d", i, op%9, n)
			}
			if done && (!run.IsDone() || len(run.Status.RetriesStatus) != before) {
				t.Fatalf("op %d (%d) changed a run that was done", i, op%9)
			}
			switch act.Kind {
			case Invoke, Wait, Await, Cleanup:
				if run.IsDone() || act.Attempt != len(run.Status.RetriesStatus)+1 {
					t.Fatalf("op %d: %v attempt %d with %d archived, done = %v", i, act.Kind, act.Attempt, len(run.Status.RetriesStatus), run.IsDone())
				}
				if act.Kind == Wait && !act.Deadline.IsZero() && act.At.After(act.Deadline) {
					t.Fatalf("op %d: Wait until %s, after the deadline %s", i, act.At, act.Deadline)
				}
				if c := run.Status.GetCondition(apis.ConditionSucceeded); act.Kind == Cleanup &&
					(c.Reason == ReasonStarted || c.Reason == ReasonRetrying || act.Deadline.After(clock.Now().Add(DefaultCleanupGrace))) {
					t.Fatalf("op %d: Cleanup until %s with condition %s", i, act.Deadline, c.Reason)
				}
			case Done:
				if !run.IsDone() {
					t.Fatalf("op %d: Done, but the run is not", i)
				}
			}
		}
	})
}
