package pipelinerun

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/config"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/resources"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// customRun is the CustomRun the reconciler's createCustomRun makes for
// one run of a pipeline task (params are a matrix combination's, if any).
func (p *pipelineRun) customRun(ctx context.Context, name string, params v1.Params, rpt *resources.ResolvedPipelineTask, facts *resources.PipelineRunFacts) *v1beta1.CustomRun {
	pr := p.pr
	rpt.PipelineTask = resources.ApplyPipelineTaskContexts(rpt.PipelineTask, pr.Status, facts)
	pt := rpt.PipelineTask
	taskRunSpec := pr.GetTaskRunSpec(pt.Name)
	params = append(params, pt.Params...)

	timeout := pt.Timeout
	if timeout == nil {
		timeout = p.taskTimeout(ctx, rpt, facts)
	}
	if taskRunSpec.Timeout != nil {
		timeout = taskRunSpec.Timeout
	}

	labels := make(map[string]string, len(pr.Labels)+3)
	for k, v := range pr.Labels {
		labels[k] = v
	}
	labels[pipeline.PipelineRunLabelKey] = pr.Name
	labels[pipeline.PipelineRunUIDLabelKey] = string(pr.UID)
	labels[pipeline.PipelineTaskLabelKey] = pt.Name
	if rpt.IsFinalTask(facts) {
		labels[pipeline.MemberOfLabelKey] = v1.PipelineFinallyTasks
	} else {
		labels[pipeline.MemberOfLabelKey] = v1.PipelineTasks
	}

	run := &v1beta1.CustomRun{
		TypeMeta: metav1.TypeMeta{APIVersion: "tekton.dev/v1beta1", Kind: pipeline.CustomRunControllerName},
		// The apiserver's creation time, which Tekton's AdjustStartTime
		// reads.
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: pr.Namespace, Labels: labels, Annotations: pr.Annotations,
			CreationTimestamp: metav1.Time{Time: p.clock.Now()}},
		Spec: v1beta1.CustomRunSpec{
			Retries:            pt.Retries,
			ServiceAccountName: taskRunSpec.ServiceAccountName,
			Timeout:            timeout,
		},
	}
	if pt.TaskRef != nil {
		run.Spec.CustomRef = &v1beta1.TaskRef{}
		run.Spec.CustomRef.ConvertFrom(ctx, *pt.TaskRef)
	}
	for _, param := range params {
		var b v1beta1.Param
		b.ConvertFrom(ctx, param)
		run.Spec.Params = append(run.Spec.Params, b)
	}
	if pt.TaskSpec != nil {
		raw, err := json.Marshal(pt.TaskSpec.Spec)
		if err != nil { // a RawExtension marshals its bytes
			panic(err)
		}
		run.Spec.CustomSpec = &v1beta1.EmbeddedCustomRunSpec{
			TypeMeta: runtime.TypeMeta{APIVersion: pt.TaskSpec.APIVersion, Kind: pt.TaskSpec.Kind},
			Metadata: v1beta1.PipelineTaskMetadata(pt.TaskSpec.Metadata),
			Spec:     runtime.RawExtension{Raw: raw},
		}
	}
	return run
}

// taskTimeout is the reconciler's pipelineRunTimeout: a task without its
// own timeout gets timeouts.tasks (timeouts.finally for a finally task)
// only when that is longer than Tekton's default timeout, since the
// PipelineRun's own timer ends it sooner otherwise.
func (p *pipelineRun) taskTimeout(ctx context.Context, rpt *resources.ResolvedPipelineTask, facts *resources.PipelineRunFacts) *metav1.Duration {
	t := p.pr.TasksTimeout()
	if rpt.IsFinalTask(facts) {
		t = p.pr.FinallyTimeout()
	}
	if t == nil {
		return nil
	}
	if t.Duration == config.NoTimeoutDuration {
		return t
	}
	if t.Duration > time.Duration(config.FromContextOrDefaults(ctx).Defaults.DefaultTimeoutMinutes)*time.Minute {
		return t
	}
	return nil
}
