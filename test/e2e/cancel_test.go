//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
)

// cancelLatency is how long after Tekton sets a CustomRun's spec.status to
// RunCancelled the run must have ended.
const cancelLatency = 2 * time.Second

// TestPipelineRunCancel cancels a PipelineRun while its Wait task waits: the
// CustomRun ends CustomRunCancelled with Tekton's message, within
// cancelLatency of Tekton cancelling it.
func TestPipelineRunCancel(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	pr, cr := startWaitPipeline(t, ns, nil)
	patch := []byte(`{"spec":{"status":"` + pipelinev1.PipelineRunSpecStatusCancelled + `"}}`)
	if _, err := tekton.TektonV1().PipelineRuns(ns).Patch(context.Background(), pr.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitCancelled(t, ns, cr, v1beta1.CustomRunCancelledByPipelineMsg)
	waitPipelineRunFailed(t, ns, pr.Name)
}

// TestPipelineRunTimeout lets a PipelineRun's 2s timeout pass while its Wait
// task waits for a minute: Tekton cancels the CustomRun, which ends
// CustomRunCancelled with Tekton's timeout message.
func TestPipelineRunTimeout(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	pr, cr := startWaitPipeline(t, ns, &pipelinev1.TimeoutFields{Pipeline: &metav1.Duration{Duration: 2 * time.Second}})
	waitCancelled(t, ns, cr, v1beta1.CustomRunCancelledByPipelineTimeoutMsg)
	waitPipelineRunFailed(t, ns, pr.Name)
}

// waitPipelineRunFailed waits for PipelineRun ns/name to end Succeeded=False.
func waitPipelineRunFailed(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, 10*time.Second, "PipelineRun "+name+" to fail", func(ctx context.Context) (bool, error) {
		pr, err := tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := pr.Status.GetCondition(apis.ConditionSucceeded)
		return c != nil && c.IsFalse(), nil
	})
}

// startWaitPipeline runs a Pipeline of one Wait task of a minute and returns
// its PipelineRun and the task's CustomRun once it has started.
func startWaitPipeline(t *testing.T, ns string, timeouts *pipelinev1.TimeoutFields) (*pipelinev1.PipelineRun, *v1beta1.CustomRun) {
	t.Helper()
	ctx := context.Background()
	pr, err := tekton.TektonV1().PipelineRuns(ns).Create(ctx, &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Name: "waiting"},
		Spec: pipelinev1.PipelineRunSpec{
			Timeouts: timeouts,
			PipelineSpec: &pipelinev1.PipelineSpec{Tasks: []pipelinev1.PipelineTask{{
				Name:     "wait",
				TaskSpec: &pipelinev1.EmbeddedTask{TypeMeta: runtime.TypeMeta{APIVersion: waitAPIVersion, Kind: "Wait"}},
				Params:   pipelinev1.Params{{Name: "duration", Value: *pipelinev1.NewStructuredValues("1m")}},
			}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var cr *v1beta1.CustomRun
	eventually(t, 30*time.Second, "the Wait task's CustomRun to start", func(ctx context.Context) (bool, error) {
		if cr, err = pipelineCustomRun(ctx, ns, pr.Name); err != nil || cr == nil {
			return false, err
		}
		return cr.Status.StartTime != nil, nil
	})
	// Tekton cancels only the children listed in the PipelineRun's
	// status.childReferences: a PipelineRun cancelled before it lists the
	// CustomRun ends Cancelled and leaves the CustomRun running (seen with
	// v1.15.1). Wait for the reference, as a user would see the task.
	eventually(t, 30*time.Second, "the PipelineRun to list its CustomRun", func(ctx context.Context) (bool, error) {
		if pr, err = tekton.TektonV1().PipelineRuns(ns).Get(ctx, pr.Name, metav1.GetOptions{}); err != nil {
			return false, err
		}
		for _, ref := range pr.Status.ChildReferences {
			if ref.Kind == "CustomRun" && ref.Name == cr.Name {
				return true, nil
			}
		}
		return false, nil
	})
	return pr, cr
}

// pipelineCustomRun returns the CustomRun of PipelineRun pr, or nil.
func pipelineCustomRun(ctx context.Context, ns, pr string) (*v1beta1.CustomRun, error) {
	list, err := tekton.TektonV1beta1().CustomRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + pr})
	if err != nil || len(list.Items) == 0 {
		return nil, err
	}
	return &list.Items[0], nil
}

// waitCancelled follows cr from the version given until Tekton cancels it
// with message msg, and checks that it then ends CustomRunCancelled within
// cancelLatency. Watch events are stamped on arrival, so the latency is
// measured to a few milliseconds.
func waitCancelled(t *testing.T, ns string, cr *v1beta1.CustomRun, msg v1beta1.CustomRunSpecStatusMessage) {
	t.Helper()
	var cancelledAt time.Time
	cr = watchRun(t, ns, cr, 30*time.Second, func(cr *v1beta1.CustomRun) bool {
		if cancelledAt.IsZero() && cr.IsCancelled() {
			cancelledAt = time.Now()
		}
		return !cancelledAt.IsZero() && cr.IsDone()
	})
	took := time.Since(cancelledAt)
	t.Logf("CustomRun ended %s after Tekton cancelled it", took.Round(time.Millisecond))
	if cr.Spec.StatusMessage != msg {
		t.Errorf("spec.statusMessage = %q, want Tekton's %q", cr.Spec.StatusMessage, msg)
	}
	wantCondition(t, cr, corev1.ConditionFalse, v1beta1.CustomRunReasonCancelled.String())
	if took > cancelLatency {
		t.Errorf("the CustomRun ended %s after Tekton cancelled it, want at most %s", took, cancelLatency)
	}
}

// watchRun follows cr from the version given, calling done with each
// version seen (cr first) as soon as it arrives, until done reports true
// or timeout passes; it returns that version. Watch events are stamped on
// arrival, so done can time what it sees to a few milliseconds.
func watchRun(t *testing.T, ns string, cr *v1beta1.CustomRun, timeout time.Duration, done func(*v1beta1.CustomRun) bool) *v1beta1.CustomRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	w, err := tekton.TektonV1beta1().CustomRuns(ns).Watch(ctx, metav1.ListOptions{
		FieldSelector:   "metadata.name=" + cr.Name,
		ResourceVersion: cr.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for !done(cr) {
		ev, ok := <-w.ResultChan()
		if !ok {
			t.Fatalf("watch of CustomRun %s ended (timeout %s) before it was done; last seen: %+v", cr.Name, timeout, cr)
		}
		got, isRun := ev.Object.(*v1beta1.CustomRun)
		if !isRun {
			t.Fatalf("watching CustomRun %s: %v event of %T: %+v", cr.Name, ev.Type, ev.Object, ev.Object)
		}
		cr = got
	}
	return cr
}
