package reconciler

import (
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
)

// An Invoke a reconcile could not carry out (tried again after the work
// queue's backoff) keeps its attempt's deadline for the next reconcile,
// whose copy of the run has startTime in whole seconds, as stored: a
// 500ms attempt that started at 09:59:59.8 is called again at 10:00:00,
// not timed out at startTime + 500ms.
func TestSettledInvokeKeepsTheAttemptsDeadline(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	m := &lifecycle.Machine{Clock: clocktesting.NewFakePassiveClock(now)}
	stored := &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"},
		Spec: v1beta1.CustomRunSpec{
			CustomRef: &v1beta1.TaskRef{APIVersion: "example.dev/v1", Kind: "Test"},
			Timeout:   &metav1.Duration{Duration: 500 * time.Millisecond},
		},
	}
	stored.Status.StartTime = &metav1.Time{Time: now.Add(-time.Second)} // 09:59:59, as stored
	stored.Status.MarkCustomRunRunning(lifecycle.ReasonStarted, "")
	act := lifecycle.Action{Kind: lifecycle.Invoke, Attempt: 1, Deadline: now.Add(300 * time.Millisecond)}

	var st runState
	st.settled(act)
	if got := m.Step(stored, st.known(nil)); got != act {
		t.Errorf("the next reconcile's action = %+v, want the same call %+v", got, act)
	}
}
