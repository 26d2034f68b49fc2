// Package pipelinerun runs a tekton.dev/v1 PipelineRun whose tasks are
// all plugin kinds to its end in-process, with no cluster: it is the
// PipelineRun side of `tkn-wasm run`. Every pipeline task becomes a
// CustomRun that a local.Runner drives through the same state machine
// (runtime/lifecycle) as the controller, so a task's timeout, retries and
// cancellation are those of a CustomRun on a cluster.
//
// The PipelineRun's own rules are Tekton's, called from Tekton's exported
// packages in the order its PipelineRun reconciler
// (pkg/reconciler/pipelinerun) calls them on every reconcile:
//
//   - pipelinespec.GetPipelineData resolves pipelineRef (through
//     Runner.Pipelines) or the embedded pipelineSpec, with SetDefaults;
//     PipelineRun.Validate and PipelineSpec.Validate are the webhook's and
//     reconciler's validation; resources.ValidateRequiredParametersProvided,
//     ValidateParamTypesMatching, ValidateObjectParamRequiredKeys,
//     ValidateParamArrayIndex, ValidatePipelineTaskResults and
//     ValidatePipelineResults fail the run as the reconciler does;
//   - resources.ApplyParameters and ApplyContexts substitute params
//     (string, array, object) and context variables;
//   - dag.Build orders tasks by runAfter and result references;
//     resources.ResolvePipelineTask, ResolveResultRef and ApplyTaskResults
//     substitute $(tasks.X.results.Y); PipelineRunFacts.DAGExecutionQueue,
//     GetFinalTasks, Skip and IsFinallySkipped decide what runs and what
//     is skipped (when expressions, CEL, skipped or failed parents,
//     timeouts) and why; ApplyPipelineTaskStateContext substitutes
//     $(tasks.status) and $(tasks.X.status) into finally tasks;
//   - GetPipelineConditionStatus, GetChildReferences, GetSkippedTasks and
//     ApplyTaskResultsToPipelineResults make the PipelineRun's status;
//     PipelineRun.HasTimedOut, HaveTasksTimedOut and HasFinallyTimedOut
//     decide timeouts.
//
// What this package writes itself, because Tekton keeps it in
// unexported reconciler methods bound to a cluster client: the reconcile
// loop (reconcile, runNextSchedulableTask), turning a pipeline task into
// its CustomRun (createCustomRun, with the task timeout rule of
// pipelineRunTimeout and the child labels), and cancelling CustomRuns
// (the controller patches spec.status; here a run's context is cancelled
// with a local.Cancellation carrying the same statusMessage). Instead of
// watching CustomRuns, the loop reconciles again whenever one of its runs
// changes state or a PipelineRun timeout is due.
//
// Refused before anything runs (Refusal): tasks that are not custom tasks
// (a taskRef or taskSpec without apiVersion and kind: they need pods),
// custom kinds no plugin serves, pipelines in pipelines, and pipeline
// tasks that bind workspaces.
package pipelinerun

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipeline/dag"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/pipelinespec"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/resources"
	"github.com/tektoncd/pipeline/pkg/trustedresources"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
	"knative.dev/pkg/apis"
)

// Runner runs PipelineRuns. Set the fields before Run; a Runner runs one
// PipelineRun at a time (Plugins and Progress are called on Run's
// goroutine), and the CustomRuns of that run on goroutines of their own.
type Runner struct {
	// Plugins returns the runner of the plugin serving a kind (its
	// Machine, Plugin, Log and Workspaces), nil when no plugin serves it,
	// or why the plugin cannot run (it does not compile). It is called on
	// Run's goroutine, before anything runs for every kind the PipelineRun
	// uses. Run copies the runner for each CustomRun and sets Slot,
	// Changed and Log: each task's log lines go to the runner's Log
	// prefixed with the task's name, whole lines at a time.
	Plugins func(apiVersion, kind string) (*local.Runner, error)
	// Pipelines are the Pipelines a pipelineRef may name.
	Pipelines map[string]*v1.Pipeline
	// Clock times the PipelineRun (its start, timeouts and completion);
	// nil means the real clock. The CustomRuns' times are their
	// Machine's.
	Clock clock.Clock
	// MaxInvocations caps the plugin invocations in progress at once
	// across the PipelineRun's tasks; a task waiting between calls (a
	// plugin that answered Running) holds none, so any number of tasks
	// may be running. 0 means runtime.GOMAXPROCS(0): an invocation is
	// host CPU work.
	MaxInvocations int
	// Progress, when set, is called on Run's goroutine with each change
	// of a task's state, in order.
	Progress func(Event)
}

// Event is a change of a pipeline task's state.
type Event struct {
	// Task is the pipeline task; CustomRun its run's name ("" when the
	// task was skipped).
	Task, CustomRun string
	// State is Started, Running, Retrying, Succeeded, Failed or Skipped;
	// Reason and Message the run's condition (or the skipping reason).
	State, Reason, Message string
	// Elapsed is the time since the run started (0 for a skipped task).
	Elapsed time.Duration
	// Run is the CustomRun as it ended (Succeeded and Failed only; a
	// task's retries are in its status.retriesStatus). It must not be
	// modified.
	Run *v1beta1.CustomRun
}

// Event states besides the reasons of lifecycle.
const (
	StateSucceeded = "Succeeded"
	StateFailed    = "Failed"
	StateSkipped   = "Skipped"
)

// Refusal is the error of a PipelineRun tkn-wasm cannot run locally, or
// whose Pipeline it cannot find: nothing has run.
type Refusal struct{ msg string }

func (e *Refusal) Error() string { return e.msg }

func refusef(format string, args ...any) error { return &Refusal{fmt.Sprintf(format, args...)} }

// Run runs pr to its end and leaves its status in pr.Status: a
// PipelineRun Tekton would fail (an invalid spec, a missing param, a
// failed task) ends False as on a cluster. When ctx ends, the PipelineRun
// is cancelled: its running CustomRuns end CustomRunCancelled and it ends
// Cancelled. The error is a *Refusal when the PipelineRun cannot run here
// (nothing has run then), or a problem outside the run (a workspace
// directory that cannot be made).
func (r *Runner) Run(ctx context.Context, pr *v1.PipelineRun) error {
	c := r.Clock
	if c == nil {
		c = clock.RealClock{}
	}
	pr.SetDefaults(ctx)
	if err := pr.Validate(ctx); err != nil {
		return refusef("the PipelineRun is invalid: %v", err)
	}
	if pr.Spec.Status != "" {
		return refusef("the PipelineRun has spec.status %s; remove it to run the PipelineRun", pr.Spec.Status)
	}
	meta, spec, err := pipelinespec.GetPipelineData(ctx, pr, r.getPipeline)
	if err != nil {
		return &Refusal{err.Error()}
	}
	if err := r.refuse(spec); err != nil {
		return err
	}
	pr.Status.InitializeConditions(c)
	p := &pipelineRun{Runner: r, pr: pr, clock: c, children: map[string]*child{}}
	if !p.prepare(ctx, meta.Name, spec) {
		return nil
	}
	if err := r.refuse(p.spec); err != nil {
		return err
	}
	return p.run(ctx)
}

// getPipeline is the pipelinespec.GetPipeline of Runner.Pipelines.
func (r *Runner) getPipeline(_ context.Context, name string) (*v1.Pipeline, *v1.RefSource, *trustedresources.VerificationResult, error) {
	if name == "" {
		return nil, nil, nil, refusef("the pipelineRef uses a resolver, which needs a cluster; give the Pipeline in a file (-f) and name it in pipelineRef.name")
	}
	p, ok := r.Pipelines[name]
	if !ok {
		return nil, nil, nil, refusef("no Pipeline %q was given; pass its file with -f or its directory with --pipelines", name)
	}
	return p.DeepCopy(), nil, nil, nil
}

// refuse says why the first task of spec that cannot run here cannot.
func (r *Runner) refuse(spec *v1.PipelineSpec) error {
	for _, pt := range append(append([]v1.PipelineTask{}, spec.Tasks...), spec.Finally...) {
		var apiVersion, kind string
		switch {
		case pt.PipelineRef != nil || pt.PipelineSpec != nil:
			return refusef("pipeline task %q runs a Pipeline, which tkn-wasm does not run locally; use a cluster", pt.Name)
		case pt.TaskRef.IsCustomTask():
			apiVersion, kind = pt.TaskRef.APIVersion, string(pt.TaskRef.Kind)
		case pt.TaskSpec.IsCustomTask():
			apiVersion, kind = pt.TaskSpec.APIVersion, pt.TaskSpec.Kind
		default:
			return refusef("pipeline task %q is not a plugin kind (its taskRef or taskSpec has no apiVersion and kind): it runs a Task in pods, which needs a cluster", pt.Name)
		}
		if len(pt.Workspaces) > 0 {
			return refusef("pipeline task %q binds workspaces, which tkn-wasm run does not support in a PipelineRun yet; use a cluster, or run the task as a CustomRun with --workspace", pt.Name)
		}
		runner, err := r.Plugins(apiVersion, kind)
		if err != nil {
			return refusef("pipeline task %q: %v", pt.Name, err)
		}
		if runner == nil {
			return refusef("pipeline task %q: no plugin serves kind %q (apiVersion %q); add one to the plugin directory's index", pt.Name, kind, apiVersion)
		}
	}
	return nil
}

// pipelineRun is one run of Runner.Run. Everything but the channels is
// owned by Run's goroutine; each CustomRun's worker owns its run and
// sends copies.
type pipelineRun struct {
	*Runner
	pr         *v1.PipelineRun
	clock      clock.Clock
	spec       *v1.PipelineSpec // params and contexts applied
	tasks      []v1.PipelineTask
	graph      *dag.Graph
	finalGraph *dag.Graph
	children   map[string]*child // by CustomRun name
	running    int
	skipped    sets.Set[string]
	updates    chan update
	logMu      sync.Mutex // serializes the lines of the tasks' logs
	slot       chan struct{}
	// workers runs the CustomRuns; its context (workCtx) ends when Run's
	// does or when one of them fails outside its run.
	workers *errgroup.Group
	workCtx context.Context
}

// child is a CustomRun the PipelineRun made: the latest copy of it and
// how to cancel it.
type child struct {
	run    *v1beta1.CustomRun
	cancel context.CancelCauseFunc
	done   bool
}

// update is a copy of a CustomRun its worker sends on each change, and
// once more (done) when the worker has returned.
type update struct {
	run  *v1beta1.CustomRun
	done bool
}

var nopLogger = zap.NewNop().Sugar()

// prepare validates the Pipeline and applies the PipelineRun's params as
// the reconciler does before its first task; false means pr has ended
// (failed) instead.
func (p *pipelineRun) prepare(ctx context.Context, pipelineName string, spec *v1.PipelineSpec) bool {
	pr := p.pr
	fail := func(reason v1.PipelineRunReason, format string, args ...any) bool {
		pr.Status.MarkFailed(reason.String(), format, args...)
		return false
	}
	var err error
	if p.graph, err = dag.Build(v1.PipelineTaskList(spec.Tasks), v1.PipelineTaskList(spec.Tasks).Deps()); err != nil {
		return fail(v1.PipelineRunReasonInvalidGraph, "PipelineRun %s's Pipeline DAG is invalid: %s", pr.Name, err)
	}
	if p.finalGraph, err = dag.Build(v1.PipelineTaskList(spec.Finally), map[string][]string{}); err != nil {
		return fail(v1.PipelineRunReasonInvalidGraph, "PipelineRun %s's Pipeline DAG is invalid for finally clause: %s", pr.Name, err)
	}
	if err := spec.Validate(ctx); err != nil {
		return fail(v1.PipelineRunReasonFailedValidation, "Pipeline %s can't be Run; it has an invalid spec: %s", pipelineName, err)
	}
	if err := resources.ValidateRequiredParametersProvided(&spec.Params, &pr.Spec.Params); err != nil {
		return fail(v1.PipelineRunReasonParameterMissing, "PipelineRun %s is missing some parameters required by Pipeline %s: %s", pr.Name, pipelineName, err)
	}
	if err := resources.ValidateParamTypesMatching(spec, pr); err != nil {
		return fail(v1.PipelineRunReasonParameterTypeMismatch, "PipelineRun %s parameters have mismatching types with Pipeline %s's parameters: %s", pr.Name, pipelineName, err)
	}
	if err := resources.ValidateObjectParamRequiredKeys(spec.Params, pr.Spec.Params); err != nil {
		return fail(v1.PipelineRunReasonObjectParameterMissKeys, "PipelineRun %s parameters is missing object keys required by Pipeline %s's parameters: %s", pr.Name, pipelineName, err)
	}
	if err := resources.ValidateParamArrayIndex(spec, pr.Spec.Params); err != nil {
		return fail(v1.PipelineRunReasonParamArrayIndexingInvalid, "PipelineRun %s failed validation: failed to validate Pipeline %s's parameter which has an invalid index while referring to an array: %s", pr.Name, pipelineName, err)
	}
	if err := resources.ValidateTaskRunSpecs(spec, pr); err != nil {
		return fail(v1.PipelineRunReasonInvalidTaskRunSpec, "PipelineRun %s doesn't define taskRunSpecs correctly: %s", pr.Name, err)
	}
	if spec, err = resources.ApplyParameters(spec, pr); err != nil {
		return fail(v1.PipelineRunReasonFailedValidation, "Failed to apply parameters to Pipeline %s: %s", pipelineName, err)
	}
	spec = resources.ApplyContexts(spec, pipelineName, pr)
	pr.Status.PipelineSpec = spec
	p.spec = spec
	p.tasks = append(append([]v1.PipelineTask{}, spec.Tasks...), spec.Finally...)
	for _, t := range p.tasks {
		if err := t.ValidateOnError(ctx); err != nil {
			return fail(v1.PipelineRunReasonFailedValidation, "Pipeline %s can't be Run; it has an invalid spec: %s", pipelineName, err)
		}
	}
	state, err := p.state(ctx)
	if err != nil {
		return fail(v1.PipelineRunReasonFailedValidation, "PipelineRun %s can't be Run; couldn't resolve all references: %s", pr.Name, err)
	}
	if err := resources.ValidatePipelineTaskResults(state); err != nil {
		return fail(v1.PipelineRunReasonInvalidTaskResultReference, "%s", err)
	}
	if err := resources.ValidatePipelineResults(spec, state); err != nil {
		return fail(v1.PipelineRunReasonInvalidPipelineResultReference, "Failed to resolve pipeline result reference for %q with error %v", pr.Name, err)
	}
	return true
}

// state resolves the pipeline tasks against the CustomRuns made so far,
// as the reconciler does on each reconcile: first the tasks that have
// runs, so that the others see their results.
func (p *pipelineRun) state(ctx context.Context) (resources.PipelineRunState, error) {
	started := sets.New[string]()
	for _, ref := range p.pr.Status.ChildReferences {
		started.Insert(ref.PipelineTaskName)
	}
	getRun := func(name string) (*v1beta1.CustomRun, error) {
		if c, ok := p.children[name]; ok {
			return c.run, nil
		}
		return nil, nil
	}
	var state resources.PipelineRunState
	for _, first := range []bool{true, false} {
		for _, t := range p.tasks {
			if started.Has(t.Name) != first {
				continue
			}
			rpt, err := resources.ResolvePipelineTask(ctx, *p.pr, nil, nil, nil, nil, getRun, *t.DeepCopy(), state)
			if err != nil {
				return nil, err
			}
			state = append(state, rpt)
		}
	}
	return state, nil
}

// run reconciles until the PipelineRun and all its CustomRuns have ended.
func (p *pipelineRun) run(ctx context.Context) error {
	limit := p.MaxInvocations
	if limit <= 0 {
		limit = runtime.GOMAXPROCS(0)
	}
	p.slot = make(chan struct{}, limit)
	p.updates = make(chan update)
	p.skipped = sets.New[string]()
	p.workers, p.workCtx = errgroup.WithContext(ctx)
	ctx = p.workCtx
	timer := p.clock.NewTimer(time.Hour)
	defer timer.Stop()
	finished := false
	var failure error
	for {
		if !finished {
			if finished, failure = p.reconcile(ctx); failure != nil {
				finished = true
				for _, c := range p.children {
					c.cancel(failure)
				}
			}
		}
		if finished && p.running == 0 {
			break
		}
		timer.Stop()
		next, ok := p.nextDeadline()
		var due <-chan time.Time
		if ok && !finished {
			timer.Reset(next.Sub(p.clock.Now()))
			due = timer.C()
		}
		done := ctx.Done()
		if finished { // the runs' contexts derive from ctx
			done = nil
		}
		select {
		case u := <-p.updates:
			p.record(u)
			p.drain()
		case <-due:
		case <-done:
		}
	}
	if err := p.workers.Wait(); err != nil {
		return err
	}
	return failure
}

// nextDeadline is when the next PipelineRun timeout falls due, if one
// lies ahead.
func (p *pipelineRun) nextDeadline() (time.Time, bool) {
	pr, now := p.pr, p.clock.Now()
	var next time.Time
	consider := func(start *metav1.Time, d *metav1.Duration) {
		if start == nil || d == nil || d.Duration <= 0 {
			return
		}
		if t := start.Add(d.Duration); t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if pr.Spec.Timeouts != nil {
		consider(pr.Status.StartTime, pr.Spec.Timeouts.Pipeline)
		if pr.Status.FinallyStartTime == nil {
			consider(pr.Status.StartTime, pr.Spec.Timeouts.Tasks)
		}
		consider(pr.Status.FinallyStartTime, pr.Spec.Timeouts.Finally)
	}
	return next, !next.IsZero()
}

// drain records the updates already waiting, so that one reconcile
// answers them all, as the controller's work queue coalesces events.
func (p *pipelineRun) drain() {
	for {
		select {
		case u := <-p.updates:
			p.record(u)
		default:
			return
		}
	}
}

// record takes in a worker's update.
func (p *pipelineRun) record(u update) {
	c := p.children[u.run.Name]
	c.run = u.run
	if u.done {
		c.done = true
		p.running--
		return
	}
	cond := u.run.Status.GetCondition(apis.ConditionSucceeded)
	if cond == nil || p.Progress == nil {
		return
	}
	state := cond.Reason
	switch {
	case cond.IsTrue():
		state = StateSucceeded
	case cond.IsFalse():
		state = StateFailed
	case state != lifecycle.ReasonStarted && state != lifecycle.ReasonRetrying:
		state = lifecycle.ReasonRunning
	}
	var elapsed time.Duration
	if st := u.run.Status.StartTime; st != nil {
		end := p.clock.Now()
		if ct := u.run.Status.CompletionTime; ct != nil {
			end = ct.Time
		}
		elapsed = end.Sub(st.Time)
	}
	ev := Event{Task: u.run.Labels[pipeline.PipelineTaskLabelKey], CustomRun: u.run.Name, State: state, Reason: cond.Reason, Message: cond.Message, Elapsed: elapsed}
	if !cond.IsUnknown() {
		ev.Run = u.run
	}
	p.Progress(ev)
}

// reconcile is one turn of the PipelineRun reconciler: it times out and
// starts what is due and updates pr.Status; true means pr has ended.
func (p *pipelineRun) reconcile(ctx context.Context) (bool, error) {
	pr := p.pr
	state, err := p.state(ctx)
	if err != nil {
		pr.Status.MarkFailed(v1.PipelineRunReasonFailedValidation.String(), "PipelineRun %s can't be Run; couldn't resolve all references: %s", pr.Name, err)
		return true, nil
	}
	facts := &resources.PipelineRunFacts{
		State:           state,
		SpecStatus:      pr.Spec.Status,
		TasksGraph:      p.graph,
		FinalTasksGraph: p.finalGraph,
		TimeoutsState:   resources.PipelineRunTimeoutsState{Clock: p.clock, StartTime: &pr.Status.StartTime.Time},
	}
	if pr.Status.FinallyStartTime != nil {
		facts.TimeoutsState.FinallyStartTime = &pr.Status.FinallyStartTime.Time
	}
	if t := pr.TasksTimeout(); t != nil {
		facts.TimeoutsState.TasksTimeout = &t.Duration
	}
	if t := pr.FinallyTimeout(); t != nil {
		facts.TimeoutsState.FinallyTimeout = &t.Duration
	}
	if t := pr.PipelineTimeout(ctx); t != 0 {
		facts.TimeoutsState.PipelineTimeout = &t
	}
	for _, rpt := range state {
		if err := rpt.EvaluateCEL(); err != nil {
			pr.Status.MarkFailed(string(v1.PipelineRunReasonCELEvaluationFailed), "Error evaluating CEL %s: %v", pr.Name, err)
			return true, nil
		}
	}

	if ctx.Err() != nil {
		// Ctrl-C: cancelPipelineRun. The runs' contexts derive from ctx,
		// so they end CustomRunCancelled by themselves.
		pr.Spec.Status = v1.PipelineRunSpecStatusCancelled
		p.finishStatus(facts)
		pr.Status.MarkFailed(v1.PipelineRunReasonCancelled.String(), "PipelineRun %q was cancelled", pr.Name)
		return true, nil
	}

	if pr.Status.FinallyStartTime == nil {
		if pr.HaveTasksTimedOut(ctx, p.clock) {
			p.timeOut(facts, func(rpt *resources.ResolvedPipelineTask) bool { return !rpt.IsFinalTask(facts) })
		}
	} else if pr.HasFinallyTimedOut(ctx, p.clock) {
		p.timeOut(facts, func(rpt *resources.ResolvedPipelineTask) bool { return rpt.IsFinalTask(facts) })
	}

	if err := p.runNextSchedulableTask(ctx, facts); err != nil {
		return true, err
	}
	facts.ResetSkippedCache()

	if pr.HasTimedOut(ctx, p.clock) {
		p.timeOut(facts, func(*resources.ResolvedPipelineTask) bool { return true })
		pr.SetTimeoutCondition(ctx)
		pr.Status.CompletionTime = &metav1.Time{Time: p.clock.Now()}
	}
	after := facts.GetPipelineConditionStatus(ctx, pr, nopLogger, p.clock)
	switch after.Status {
	case corev1.ConditionTrue:
		pr.Status.MarkSucceeded(after.Reason, "%s", after.Message)
	case corev1.ConditionFalse:
		pr.Status.MarkFailed(after.Reason, "%s", after.Message)
	default:
		pr.Status.MarkRunning(after.Reason, "%s", after.Message)
	}
	p.finishStatus(facts)
	if after.Status == corev1.ConditionUnknown {
		return false, nil
	}
	results, err := resources.ApplyTaskResultsToPipelineResults(p.spec.Results, facts.State.GetTaskRunsResults(), facts.State.GetRunsResults(), p.taskStatus(facts))
	pr.Status.Results = results
	if err != nil {
		pr.Status.MarkFailed(v1.PipelineRunReasonCouldntGetPipelineResult.String(), "Failed to get PipelineResult from TaskRun Results for PipelineRun %s: %s", pr.Name, err)
	}
	return true, nil
}

// finishStatus updates the parts of the status every reconcile writes,
// and reports newly skipped tasks.
func (p *pipelineRun) finishStatus(facts *resources.PipelineRunFacts) {
	pr := p.pr
	pr.Status.StartTime = facts.State.AdjustStartTime(pr.Status.StartTime)
	pr.Status.ChildReferences = facts.GetChildReferences()
	pr.Status.SkippedTasks = facts.GetSkippedTasks()
	for _, s := range pr.Status.SkippedTasks {
		if p.skipped.Has(s.Name) {
			continue
		}
		p.skipped.Insert(s.Name)
		if p.Progress != nil {
			p.Progress(Event{Task: s.Name, State: StateSkipped, Reason: string(s.Reason)})
		}
	}
}

func (p *pipelineRun) taskStatus(facts *resources.PipelineRunFacts) map[string]string {
	st := facts.GetPipelineTaskStatus()
	for k, v := range facts.GetPipelineFinalTaskStatus() {
		st[k] = v
	}
	return st
}

// timeOut cancels the running CustomRuns of the tasks selected, as the
// reconciler's timeoutPipelineTasksForTaskNames patches them.
func (p *pipelineRun) timeOut(facts *resources.PipelineRunFacts, selected func(*resources.ResolvedPipelineTask) bool) {
	for _, rpt := range facts.State {
		if !rpt.IsRunning() || !selected(rpt) {
			continue
		}
		for _, run := range rpt.CustomRuns {
			if c := p.children[run.Name]; !c.done {
				c.cancel(&local.Cancellation{Message: string(v1beta1.CustomRunCancelledByPipelineTimeoutMsg)})
			}
		}
	}
}

// runNextSchedulableTask is the reconciler's: it starts the DAG tasks
// whose parents are done and, once the DAG is done, the finally tasks.
func (p *pipelineRun) runNextSchedulableTask(ctx context.Context, facts *resources.PipelineRunFacts) error {
	pr := p.pr
	next, err := facts.DAGExecutionQueue()
	if err != nil {
		return err
	}
	for _, rpt := range next {
		if err := resources.CheckMissingResultReferences(facts.State, rpt); err != nil {
			next = nil
			facts.ValidationFailedTask = append(facts.ValidationFailedTask, rpt)
			if facts.ValidationFailedErrors == nil {
				facts.ValidationFailedErrors = map[string]string{}
			}
			facts.ValidationFailedErrors[rpt.PipelineTask.Name] = err.Error()
		}
	}
	if final := facts.GetFinalTasks(); len(final) != 0 {
		resources.ApplyPipelineTaskStateContext(final, facts.GetPipelineTaskStatus())
		for _, rpt := range final {
			refs, _, err := resources.ResolveResultRef(facts.State, rpt)
			if err != nil {
				continue
			}
			resources.ApplyTaskResults(resources.PipelineRunState{rpt}, refs)
			if err := rpt.EvaluateCEL(); err != nil {
				pr.Status.MarkFailed(string(v1.PipelineRunReasonCELEvaluationFailed), "Error evaluating CEL %s: %v", pr.Name, err)
				return nil
			}
			next = append(next, rpt)
		}
	}
	if pr.Status.FinallyStartTime == nil && facts.IsFinalTaskStarted() {
		p.setFinallyStartTime(facts)
	}
	for _, rpt := range next {
		if rpt.IsFinalTask(facts) {
			p.setFinallyStartTime(facts)
		}
		if rpt.Skip(facts).IsSkipped || rpt.IsFinallySkipped(facts).IsSkipped {
			continue
		}
		resources.PropagateResults(rpt, facts.State)
		var combinations []v1.Params
		if rpt.PipelineTask.IsMatrixed() {
			combinations = rpt.PipelineTask.Matrix.FanOut()
		}
		for i, name := range rpt.CustomRunNames {
			var params v1.Params
			if i < len(combinations) {
				params = combinations[i]
			}
			rpt.CustomRuns = append(rpt.CustomRuns, p.start(p.customRun(ctx, name, params, rpt, facts)))
		}
	}
	return nil
}

func (p *pipelineRun) setFinallyStartTime(facts *resources.PipelineRunFacts) {
	if p.pr.Status.FinallyStartTime == nil {
		p.pr.Status.FinallyStartTime = &metav1.Time{Time: p.clock.Now()}
	}
	if facts.TimeoutsState.FinallyStartTime == nil {
		facts.TimeoutsState.FinallyStartTime = &p.pr.Status.FinallyStartTime.Time
	}
}

// start hands run to a worker, which owns it from now on, and returns
// the copy the PipelineRun keeps.
func (p *pipelineRun) start(run *v1beta1.CustomRun) *v1beta1.CustomRun {
	apiVersion, kind := lifecycle.Target(run)
	base, _ := p.Plugins(apiVersion, kind) // refuse checked every kind
	runner := *base
	task := run.Labels[pipeline.PipelineTaskLabelKey]
	var log *lineWriter
	if runner.Log != nil {
		log = &lineWriter{mu: &p.logMu, w: runner.Log, prefix: task + ": "}
		runner.Log = log
	}
	runner.Slot = p.acquire
	runner.Changed = func(r *v1beta1.CustomRun) { p.updates <- update{run: r.DeepCopy()} }
	ctx, cancel := context.WithCancelCause(p.workCtx)
	c := &child{run: run.DeepCopy(), cancel: cancel}
	p.children[run.Name] = c
	p.running++
	p.workers.Go(func() error {
		defer cancel(nil)
		err := runner.Run(ctx, run)
		if log != nil {
			log.flush()
		}
		p.updates <- update{run: run.DeepCopy(), done: true}
		if err != nil {
			return fmt.Errorf("pipeline task %s: %w", task, err)
		}
		return nil
	})
	return c.run
}

// acquire is each runner's Slot: a place among MaxInvocations.
func (p *pipelineRun) acquire(ctx context.Context) (func(), error) {
	select {
	case p.slot <- struct{}{}:
		return func() { <-p.slot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
