//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestUnregisteredKindUntouched checks the rig's base: Tekton's controller
// turns a pipeline task of a custom kind into a CustomRun with customRef, and
// a kind that no plugin serves is left alone (no startTime, no condition) by
// every controller in the cluster.
func TestUnregisteredKindUntouched(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()

	pipeline := &pipelinev1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "custom"},
		Spec: pipelinev1.PipelineSpec{
			Tasks: []pipelinev1.PipelineTask{{
				Name:    "example",
				TaskRef: &pipelinev1.TaskRef{APIVersion: "example.dev/v1alpha1", Kind: "Example"},
				Params:  pipelinev1.Params{{Name: "greeting", Value: *pipelinev1.NewStructuredValues("hello")}},
			}},
		},
	}
	if _, err := tekton.TektonV1().Pipelines(ns).Create(ctx, pipeline, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pr, err := tekton.TektonV1().PipelineRuns(ns).Create(ctx, &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Name: "custom-run"},
		Spec:       pipelinev1.PipelineRunSpec{PipelineRef: &pipelinev1.PipelineRef{Name: "custom"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()

	var cr *v1beta1.CustomRun
	eventually(t, 30*time.Second, "Tekton to create the CustomRun", func(ctx context.Context) (bool, error) {
		list, err := tekton.TektonV1beta1().CustomRuns(ns).List(ctx, metav1.ListOptions{
			LabelSelector: "tekton.dev/pipelineRun=" + pr.Name,
		})
		if err != nil || len(list.Items) == 0 {
			return false, err
		}
		cr = &list.Items[0]
		return true, nil
	})
	t.Logf("Tekton created CustomRun %s %s after the PipelineRun", cr.Name, time.Since(created).Round(time.Millisecond))

	ref := cr.Spec.CustomRef
	if ref == nil || ref.APIVersion != "example.dev/v1alpha1" || ref.Kind != "Example" || ref.Name != "" {
		t.Fatalf("customRef = %+v, want apiVersion example.dev/v1alpha1, kind Example, no name", ref)
	}
	if got := cr.Labels["tekton.dev/pipelineTask"]; got != "example" {
		t.Errorf("label tekton.dev/pipelineTask = %q, want example", got)
	}
	if len(cr.Spec.Params) != 1 || cr.Spec.Params[0].Name != "greeting" || cr.Spec.Params[0].Value.StringVal != "hello" {
		t.Errorf("params = %+v, want greeting=hello", cr.Spec.Params)
	}
	if owner := metav1.GetControllerOf(cr); owner == nil || owner.Kind != "PipelineRun" || owner.Name != pr.Name {
		t.Errorf("controller owner = %+v, want PipelineRun %s", owner, pr.Name)
	}

	// Nothing serves example.dev/v1alpha1 Example: the run must stay
	// untouched. Give every controller time to (wrongly) react.
	time.Sleep(3 * time.Second)
	cr, err = tekton.TektonV1beta1().CustomRuns(ns).Get(ctx, cr.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cr.Status.StartTime != nil || len(cr.Status.Conditions) != 0 {
		t.Fatalf("CustomRun of an unserved kind was touched: status = %+v", cr.Status)
	}
}
