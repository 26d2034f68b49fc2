//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
)

// TestPipelineOfPlugins runs a Pipeline made only of plugin kinds, by
// taskRef and by taskSpec, whose results flow into a later task's params and
// into the pipeline's results:
//
//	parse (SemVer, taskRef) ─► pause (Wait, taskSpec) ─► bump (SemVer, taskSpec,
//	                                                      version from parse's results)
func TestPipelineOfPlugins(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	str := func(s string) pipelinev1.ParamValue { return *pipelinev1.NewStructuredValues(s) }

	pipeline := &pipelinev1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "release-gate"},
		Spec: pipelinev1.PipelineSpec{
			Params: pipelinev1.ParamSpecs{{Name: "version", Type: pipelinev1.ParamTypeString}},
			Tasks: []pipelinev1.PipelineTask{{
				Name:    "parse",
				TaskRef: &pipelinev1.TaskRef{APIVersion: semverAPIVersion, Kind: "SemVer"},
				Params: pipelinev1.Params{
					{Name: "version", Value: str("$(params.version)")},
					{Name: "constraint", Value: str(">=1.2.0 <2.0.0")},
					{Name: "require", Value: str("true")},
				},
			}, {
				Name:     "pause",
				RunAfter: []string{"parse"},
				TaskSpec: &pipelinev1.EmbeddedTask{TypeMeta: runtime.TypeMeta{APIVersion: waitAPIVersion, Kind: "Wait"}},
				Params:   pipelinev1.Params{{Name: "duration", Value: str("300ms")}},
			}, {
				Name:     "bump",
				RunAfter: []string{"pause"},
				TaskSpec: &pipelinev1.EmbeddedTask{TypeMeta: runtime.TypeMeta{APIVersion: semverAPIVersion, Kind: "SemVer"}},
				Params: pipelinev1.Params{
					{Name: "version", Value: str("$(tasks.parse.results.major).$(tasks.parse.results.minor).9")},
				},
			}},
			Results: []pipelinev1.PipelineResult{
				{Name: "major", Value: str("$(tasks.parse.results.major)")},
				{Name: "satisfied", Value: str("$(tasks.parse.results.satisfied)")},
				{Name: "bumped", Value: str("$(tasks.bump.results.major).$(tasks.bump.results.minor).$(tasks.bump.results.patch)")},
			},
		},
	}
	runPipeline(t, ns, pipeline, pipelinev1.Params{{Name: "version", Value: str("v1.4.2")}},
		map[string]string{"major": "1", "satisfied": "true", "bumped": "1.4.9"})

	// The taskSpec task became a customSpec CustomRun whose param was
	// resolved from parse's results.
	runs, err := tekton.TektonV1beta1().CustomRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineTask=bump"})
	if err != nil || len(runs.Items) != 1 {
		t.Fatalf("CustomRuns of task bump: %v, %v", runs, err)
	}
	bump := runs.Items[0]
	if bump.Spec.CustomSpec == nil || bump.Spec.CustomSpec.Kind != "SemVer" || bump.Spec.CustomRef != nil {
		t.Errorf("bump's CustomRun spec = %+v, want a customSpec of kind SemVer", bump.Spec)
	}
	if len(bump.Spec.Params) != 1 || bump.Spec.Params[0].Value.StringVal != "1.4.9" {
		t.Errorf("bump's params = %+v, want version=1.4.9", bump.Spec.Params)
	}
}

// runPipeline creates Pipeline p in ns and a PipelineRun of the same name
// running it with params, waits for it to succeed, logs how long that took
// after its creation, and checks that its results include want.
func runPipeline(t *testing.T, ns string, p *pipelinev1.Pipeline, params pipelinev1.Params, want map[string]string) {
	t.Helper()
	ctx := context.Background()
	if _, err := tekton.TektonV1().Pipelines(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	if _, err := tekton.TektonV1().PipelineRuns(ns).Create(ctx, &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name},
		Spec:       pipelinev1.PipelineRunSpec{PipelineRef: &pipelinev1.PipelineRef{Name: p.Name}, Params: params},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pr := waitPipelineRunDone(t, ns, p.Name, time.Minute)
	if c := pr.Status.GetCondition(apis.ConditionSucceeded); !c.IsTrue() {
		t.Fatalf("PipelineRun ended %s: %s: %s", c.Status, c.Reason, c.Message)
	}
	t.Logf("PipelineRun %s done %s after its creation", p.Name, time.Since(created).Round(time.Millisecond))
	results := map[string]string{}
	for _, r := range pr.Status.Results {
		results[r.Name] = r.Value.StringVal
	}
	for k, v := range want {
		if results[k] != v {
			t.Errorf("pipeline result %s = %q, want %q (all: %v)", k, results[k], v, results)
		}
	}
}
