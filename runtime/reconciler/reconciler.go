// Package reconciler is the controller's CustomRun reconciler. It drives
// every CustomRun whose customRef or customSpec names a kind a plugin is
// registered for through the state machine (runtime/lifecycle) and runs
// the plugin (runtime/engine) when the machine says so. cmd/controller
// wires it (engine, registry, dispatcher, informers); this package holds
// the reconciler alone.
//
// One reconcile reads like the local runner (runtime/local), one way:
//
//	run -> runState.known -> Machine.Step -> Await:  await (write the held status when due)
//	                                      -> Invoke, Cleanup: call -> start -> execute (goroutine):
//	                                                 slot, workspaces, Machine.Request, Invoke -> job outcome
//	                                      -> Wait, Done: statusWriter.flush -> requeue
//
// It enters the state machine once per decision (Step, given the action
// the run acts on, its invocation's outcome once that has ended, and the
// plugin's failure if it is broken), and the request is built whole, once,
// by Machine.Request in the invocation's goroutine after its workspaces are
// prepared. The files: reconciler.go (ReconcileKind, call, await, the
// status write), runs.go (runState, job), status.go (statusWriter),
// execute.go (the invocation's goroutine), pace.go (call pacing).
//
// It owns what a cluster adds to the machine's rules:
//
//   - Ownership. A run of a kind no plugin ConfigMap claims is never
//     touched: no status, no event (another controller may own it). When
//     a plugin registers later, the runs of its kind are reconciled again
//     and start. A run whose status another field manager has written is
//     left alone too, with one StatusOwnedByAnotherController Event: a
//     plugin ConfigMap claimed a kind another controller serves.
//   - Execution off the reconcile path. Invocations run in goroutines,
//     under the global and per-plugin concurrency limits, shared fairly
//     between namespaces (runtime/dispatch); a queued invocation keeps its
//     run's deadline. When one ends, its outcome is kept in memory and the
//     run is reconciled again to record it. Cancelling a run (spec.status:
//     RunCancelled) or its timeout stops the invocation within
//     milliseconds; a Running response holds no sandbox while the run
//     waits for its requeueAfter. A run's calls after its first are paced
//     per run and per plugin (RunPace, PluginPace; see callAt), except
//     a clean-up call, which its grace period bounds.
//   - Per-run state, one owner. What the controller remembers of a run
//     between reconciles (runState: the action it acts on, its job, its
//     status writer, its pace) is reached only through the run table's
//     Get, which only the run's reconcile calls, so only that reconcile
//     reads or writes it. The table (package runs) is generic and cannot
//     look inside a state: the other goroutines that reach a run through
//     it (the informer's filter, Demote on the leader elector's goroutine,
//     ObserveDeletion) can only drop the run, which cancels the context
//     every invocation of the run derives from. An invocation's goroutine
//     gets copies of what it needs and the send side of its job's outcome
//     channel, and nothing else of the run. The rules are on runState.
//   - Spec and workspaces. Before the invocation is queued, the run's
//     workspaces are checked as written (workspace.Check) and a named
//     customRef is resolved to the object's spec (runtime/customtask);
//     the workspaces are prepared (runtime/workspace) once it has a slot.
//     Failures that no retry can fix end the run False at once, through
//     the machine (a lifecycle.Failure), with a reason saying what to fix,
//     as does a broken plugin (PluginUnavailable).
//   - Status writes. The reconciler writes the status itself, as field
//     manager AgentName, only for runs it owns (the generated reconciler's
//     automatic status update is off, because it would stamp status on
//     every run it sees). A new attempt's status is held back for
//     StatusDelay (statusWriter), so a plugin that answers at once costs a
//     single write: start time, final condition and results together. A
//     status the apiserver refuses for what it holds (see rejected) ends
//     the run StatusUpdateRejected.
//   - Events on the run: Started, one per retried attempt (Retrying), and
//     the final condition's reason on success or failure.
//
// Delivery is at least once: the invocation in flight when the controller
// stops (or loses leadership) runs again from the start of its call, and a
// waiting run is called again at once after a restart, since its
// requeueAfter lives in memory. Plugins must tolerate being called again;
// so must a clean-up call (see runtime/lifecycle), which is made again
// when the controller stops during it.
package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/customtask"
	"github.com/tekton-wasm/tekton-wasm/runtime/dispatch"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/metrics"
	"github.com/tekton-wasm/tekton-wasm/runtime/reconciler/internal/runs"
	"github.com/tekton-wasm/tekton-wasm/runtime/registry"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
)

// Condition reasons the reconciler sets, beside the state machine's and
// those of runtime/customtask and runtime/workspace.
const (
	// ReasonPluginUnavailable: the run's kind is claimed by a plugin
	// ConfigMap that cannot be loaded; the message names the ConfigMap and
	// the problem.
	ReasonPluginUnavailable = "PluginUnavailable"
	// ReasonStatusRejected: the apiserver refused the run's status (it
	// grew too large, e.g. from many retries with large extraFields, or
	// was invalid, or an admission webhook denied it): see rejected.
	ReasonStatusRejected = "StatusUpdateRejected"
	// ReasonStatusOwned is the Warning Event on a run whose status another
	// controller has written: the reconciler leaves the run alone.
	ReasonStatusOwned = "StatusOwnedByAnotherController"
)

// AgentName is the controller's name in Events and as a field manager.
const AgentName = "tekton-wasm-controller"

// DefaultStatusDelay is the default of Reconciler.StatusDelay.
const DefaultStatusDelay = time.Second

// Reconciler reconciles CustomRuns. Set every field before the first
// reconcile; cmd/controller wires it.
type Reconciler struct {
	Registry   *registry.Registry
	Dispatcher *dispatch.Dispatcher
	Resolver   *customtask.Resolver
	Workspaces *workspace.Preparer
	// Kubernetes serves the Kubernetes capability of plugins whose
	// manifest grants it, as each run's ServiceAccount (nil: none is
	// served, and their calls get ENOTCAPABLE).
	Kubernetes *kubecap.Client
	// Client writes run status.
	Client  versioned.Interface
	Clock   clock.PassiveClock
	Metrics *metrics.Metrics
	// StatusDelay is how long the start of an attempt may go unrecorded
	// while its invocation runs (0: record it at once). An invocation that
	// ends sooner is recorded together with its start.
	StatusDelay time.Duration
	// Context bounds every invocation: the controller's lifetime.
	Context context.Context
	// Enqueue asks for a reconcile of a run; it is called when an
	// invocation ends.
	Enqueue func(types.NamespacedName)
	// RunPace paces the calls of each run and PluginPace those of all the
	// runs of one plugin (see callAt); a zero Pace has the defaults
	// (DefaultRunCallQPS...).
	RunPace, PluginPace Pace
	// IsLeader reports whether this replica leads the bucket of a run (the
	// generated reconciler's IsLeaderFor): a reconcile that began before
	// leadership was lost starts nothing.
	IsLeader func(types.NamespacedName) bool

	runs    runs.Table[*runState]
	plugins pluginPaces
}

// ReconcileKind implements the generated CustomRun reconciler's interface.
// It reads like the local runner: the run's state tells the machine what
// is known, the machine decides once, and the reconciler carries the
// decision out (starts the invocation, or awaits it) and writes the
// status.
func (r *Reconciler) ReconcileKind(ctx context.Context, run *v1beta1.CustomRun) pkgreconciler.Event {
	apiVersion, kind := lifecycle.Target(run)
	entry := r.Registry.Lookup(apiVersion, kind)
	if entry == nil {
		return nil // not ours
	}
	key := types.NamespacedName{Namespace: run.Namespace, Name: run.Name}
	st, ok := r.runs.Get(r.Context, key, run.UID, r.IsLeader, r.newRunState)
	if !ok {
		return nil // leadership lost meanwhile: another replica runs it
	}
	defer st.status.release()
	if st.status.stale(run) {
		return nil // the informer has not seen our last write yet; its event will bring us back
	}
	if run.IsDone() {
		r.runs.Forget(key)
		return nil
	}
	if other := otherStatusWriter(run); other != "" {
		r.leave(ctx, run, st, entry, other)
		return nil
	}
	ctx = logging.WithLogger(ctx, logging.FromContext(ctx).With(zap.String("kind", entry.Kind.String())))

	m := r.machine(entry)
	st.status.read(run)
	var unavailable *lifecycle.Failure
	if entry.Err != nil {
		unavailable = &lifecycle.Failure{Reason: ReasonPluginUnavailable, Message: entry.Err.Error()}
	}
	act := m.Step(run, st.known(unavailable))
	if act.Kind == lifecycle.Await {
		return r.await(ctx, m, entry.Kind, run, st, act.Deadline)
	}
	st.stop() // its outcome is recorded, or its attempt ended without it
	var retry error
	if act.Kind == lifecycle.Invoke || act.Kind == lifecycle.Cleanup {
		if retry = st.interrupted(act); retry == nil {
			var started bool
			if act, started, retry = r.call(ctx, m, run, st, entry, act); started {
				return r.await(ctx, m, entry.Kind, run, st, act.Deadline)
			}
		}
	}
	if err := st.status.flush(run, r.write(ctx, m, entry.Kind)); err != nil {
		return err
	}
	st.settled(act)
	if retry != nil {
		return retry
	}
	if act.Kind == lifecycle.Wait {
		return controller.NewRequeueAfter(r.until(act.At))
	}
	return nil
}

// until is how long until t by the reconciler's clock, zero if t has
// passed.
func (r *Reconciler) until(t time.Time) time.Duration { return max(t.Sub(r.Clock.Now()), 0) }

func (r *Reconciler) newRunState(ctx context.Context) *runState {
	return &runState{ctx: ctx, status: statusWriter{delay: r.StatusDelay}}
}

// await handles a run whose invocation is running: it writes the status
// held when the invocation started once that is due, and asks to be
// called again then or at the attempt's deadline, whichever comes first.
// The invocation's end also brings the run back.
func (r *Reconciler) await(ctx context.Context, m *lifecycle.Machine, kind registry.Kind, run *v1beta1.CustomRun, st *runState, deadline time.Time) error {
	var next time.Duration
	if !deadline.IsZero() {
		next = r.until(deadline)
	}
	if wait := st.status.wait(r.Clock.Now()); wait > 0 {
		if !deadline.IsZero() {
			wait = min(wait, next)
		}
		return controller.NewRequeueAfter(wait)
	}
	if err := st.status.flush(run, r.write(ctx, m, kind)); err != nil {
		return err
	}
	if deadline.IsZero() {
		return nil
	}
	return controller.NewRequeueAfter(next)
}

// call carries out an Invoke or a Cleanup: it paces an Invoke (see
// callAt), resolves the run's spec and starts the invocation, holding the
// status the attempt starts with (see statusWriter). It returns the action
// that stands: act when the invocation started, a Wait when the call is
// paced, the machine's decision when the spec cannot be resolved; and an
// error that may pass (the attempt is tried again after the work queue's
// backoff). A clean-up call is neither paced (its grace period runs) nor
// tried again: when its spec cannot be resolved, it is over.
func (r *Reconciler) call(ctx context.Context, m *lifecycle.Machine, run *v1beta1.CustomRun, st *runState, entry *registry.Entry,
	act lifecycle.Action) (_ lifecycle.Action, started bool, _ error) {
	now := r.Clock.Now()
	if act.Kind == lifecycle.Invoke {
		if at := r.callAt(st, entry.Kind, now); now.Before(at) {
			return act.WaitUntil(at), false, nil // paced: wait for the call's tokens, within the attempt
		}
	}
	spec, err := r.inputs(ctx, run)
	var f *lifecycle.Failure
	switch {
	case errors.As(hostFailure(err), &f):
		// The invocation cannot run: a second decision.
		return m.Step(run, lifecycle.Known{Last: act, Outcome: &lifecycle.Outcome{Err: f}}), false, nil
	case err != nil && act.Kind == lifecycle.Cleanup:
		return m.Step(run, lifecycle.Known{Last: act, Outcome: &lifecycle.Outcome{Err: err}}), false, nil
	case err != nil:
		return act, false, err
	}
	st.started(act, r.start(st.ctx, invocation{
		key:     types.NamespacedName{Namespace: run.Namespace, Name: run.Name},
		kind:    entry.Kind,
		machine: m,
		act:     act,
		run:     lifecycle.Snapshot(run),
		spec:    spec,
		limit:   entry.Manifest.Limits.Concurrency,
		logger:  logging.FromContext(ctx).With(zap.String("plugin", entry.Manifest.Name), zap.Int("attempt", act.Attempt)),
	}))
	st.status.hold(run, now)
	return act, true, nil
}

// inputs checks what the run's owner must get right before a call can be
// made, so that a run breaking it ends without waiting for a slot: its
// workspaces as written (workspace.Check; what they hold is read once the
// invocation has a slot) and its named customRef, whose spec it returns.
func (r *Reconciler) inputs(ctx context.Context, run *v1beta1.CustomRun) (json.RawMessage, error) {
	if err := workspace.Check(run); err != nil {
		return nil, err
	}
	ref := run.Spec.CustomRef
	if ref == nil || ref.Name == "" {
		return nil, nil
	}
	return r.Resolver.Spec(ctx, run.Namespace, run.Spec.ServiceAccountName, ref.APIVersion, string(ref.Kind), ref.Name)
}

// hostFailure returns err as a *lifecycle.Failure when no retry can fix
// it (a customRef or a workspace the run's owner must fix), else err.
func hostFailure(err error) error {
	var ct *customtask.Error
	var ws *workspace.Error
	switch {
	case errors.As(err, &ct):
		return &lifecycle.Failure{Reason: ct.Reason, Message: ct.Message}
	case errors.As(err, &ws):
		return &lifecycle.Failure{Reason: ws.Reason, Message: ws.Message}
	}
	return err
}

// write returns how a reconcile writes run's status over the stored one:
// as field manager AgentName, then recording Events and metrics for what
// changed. A status the apiserver refuses for what it holds (see
// rejected) is replaced by a failure it accepts, so the run ends instead
// of failing to update forever.
func (r *Reconciler) write(ctx context.Context, m *lifecycle.Machine, kind registry.Kind) writeFunc {
	return func(run *v1beta1.CustomRun, stored *v1beta1.CustomRunStatus) error {
		run.Status.ObservedGeneration = run.Generation
		client := r.Client.TektonV1beta1().CustomRuns(run.Namespace)
		opts := metav1.UpdateOptions{FieldManager: AgentName}
		_, err := client.UpdateStatus(ctx, run, opts)
		if rejected(err) {
			logging.FromContext(ctx).Errorw("The apiserver refused the run's status; ending the run", zap.Error(err))
			run.Status = *stored.DeepCopy()
			m.Fail(run, ReasonStatusRejected, fmt.Sprintf("the apiserver refused the run's status: %v", err))
			run.Status.ObservedGeneration = run.Generation
			_, err = client.UpdateStatus(ctx, run, opts)
		}
		if err != nil {
			return err
		}
		r.report(ctx, run, stored, kind)
		return nil
	}
}

// rejected reports whether the apiserver refused a status write for what
// it holds: a 4xx that writing the same status again cannot fix (400 Bad
// Request, 403 Forbidden as admission webhooks deny, 413, 422 Invalid...).
// These are not: 401 (credentials, which rotate), 404 (the run is gone;
// its deletion is handled), 408 (a timeout), 409 (a stale write, retried
// with a fresh copy) and 429 (throttled).
func rejected(err error) bool {
	var s apierrors.APIStatus
	if !errors.As(err, &s) {
		return false
	}
	switch code := s.Status().Code; code {
	case http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return false
	default:
		return code >= 400 && code < 500
	}
}

// otherStatusWriter returns the field manager, other than this
// controller, that has written run's status, or "" if there is none: then
// another controller serves the run's kind too (a plugin ConfigMap claimed
// a kind that is not ours to serve).
func otherStatusWriter(run *v1beta1.CustomRun) string {
	for _, mf := range run.ManagedFields {
		if mf.Manager != AgentName && (mf.Subresource == "status" || setsStatus(mf.FieldsV1)) {
			return mf.Manager
		}
	}
	return ""
}

// TrimManagedFields is the CustomRun informer's transform
// (cache.TransformFunc): of a run's managedFields it keeps only what
// otherStatusWriter reads, another manager's writes of the status, and of
// a write through the status subresource not even its field set. The
// controller reads nothing else of them, and they are a large part of
// what the informer caches for each run (648 of the 2.7 KB of JSON of a
// bench run), which matters with thousands of runs waiting. Dropping them
// from the cache changes no write: the controller writes runs only
// through the status subresource, where the apiserver keeps the stored
// managedFields whatever the request carries.
func TrimManagedFields(obj any) (any, error) {
	run, ok := obj.(*v1beta1.CustomRun)
	if !ok || len(run.ManagedFields) == 0 {
		return obj, nil
	}
	var kept []metav1.ManagedFieldsEntry
	for _, mf := range run.ManagedFields {
		switch {
		case mf.Manager == AgentName:
			continue
		case mf.Subresource == "status":
			mf.FieldsV1 = nil
		case !setsStatus(mf.FieldsV1):
			continue
		}
		kept = append(kept, mf)
	}
	run.ManagedFields = kept
	return run, nil
}

// setsStatus reports whether a managedFields entry owns a field within
// status.
func setsStatus(f *metav1.FieldsV1) bool {
	if f == nil {
		return false
	}
	var fields, status map[string]json.RawMessage
	if json.Unmarshal(f.Raw, &fields) != nil || json.Unmarshal(fields["f:status"], &status) != nil {
		return false
	}
	for k := range status {
		if k != "." {
			return true
		}
	}
	return false
}

// leave stops working on a run whose status another controller writes:
// it stops the run's invocation and, once per run, reports the conflict
// as a Warning Event on the run. It writes nothing.
func (r *Reconciler) leave(ctx context.Context, run *v1beta1.CustomRun, st *runState, entry *registry.Entry, other string) {
	st.stop()
	st.settled(lifecycle.Action{})
	if st.left {
		return
	}
	st.left = true
	logging.FromContext(ctx).Warnw("Another controller writes the run's status; leaving it", zap.String("manager", other))
	controller.GetEventRecorder(ctx).Eventf(run, corev1.EventTypeWarning, ReasonStatusOwned,
		"%q writes the status of this CustomRun: another controller serves kind %s (%s), which the plugin ConfigMap %s claims too; "+
			"%s leaves the run alone. Delete that ConfigMap, or stop the other controller, so that one controller serves the kind",
		other, entry.Kind.Kind, entry.Kind.APIVersion, entry.ConfigMap, AgentName)
}

// report records the Events and metrics of a stored status change.
func (r *Reconciler) report(ctx context.Context, run *v1beta1.CustomRun, before *v1beta1.CustomRunStatus, kind registry.Kind) {
	rec := controller.GetEventRecorder(ctx)
	attempts := run.Spec.Retries + 1
	if before.StartTime == nil && !run.IsDone() {
		rec.Eventf(run, corev1.EventTypeNormal, lifecycle.ReasonStarted, "Attempt 1 of %d started", attempts)
	}
	for i := len(before.RetriesStatus); i < len(run.Status.RetriesStatus); i++ {
		c := run.Status.RetriesStatus[i].GetCondition(apis.ConditionSucceeded)
		rec.Eventf(run, corev1.EventTypeWarning, lifecycle.ReasonRetrying, "Attempt %d of %d failed (%s): %s; retrying", i+1, attempts, c.Reason, c.Message)
	}
	if !run.IsDone() {
		return
	}
	c := run.Status.GetCondition(apis.ConditionSucceeded)
	outcome, eventType := metrics.OutcomeFailed, corev1.EventTypeWarning
	switch {
	case c.IsTrue():
		outcome, eventType = metrics.OutcomeSucceeded, corev1.EventTypeNormal
	case c.Reason == lifecycle.ReasonCancelled:
		outcome = metrics.OutcomeCancelled
	case c.Reason == lifecycle.ReasonTimedOut:
		outcome = metrics.OutcomeTimedOut
	}
	r.Metrics.RunEnded(ctx, kind.APIVersion, kind.Kind, outcome)
	msg := c.Message
	if msg == "" {
		msg = "CustomRun " + outcome
	}
	rec.Event(run, eventType, c.Reason, msg)
}

func (r *Reconciler) machine(e *registry.Entry) *lifecycle.Machine {
	m := &lifecycle.Machine{Clock: r.Clock}
	if e.Manifest != nil {
		m.DefaultTimeout = e.Manifest.Limits.DefaultTimeout()
		m.CleanupGrace = e.Manifest.Limits.CleanupGrace()
	}
	return m
}

// Owns reports whether obj (a CustomRun, or an informer tombstone of one)
// is a run of a registered kind, or one the reconciler is still working
// on: the filter of the informer's event handler.
func (r *Reconciler) Owns(obj any) bool {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	run, ok := obj.(*v1beta1.CustomRun)
	if !ok {
		return false
	}
	apiVersion, kind := lifecycle.Target(run)
	return r.Registry.Lookup(apiVersion, kind) != nil || r.runs.Has(types.NamespacedName{Namespace: run.Namespace, Name: run.Name})
}

// ObserveDeletion stops the invocation of a deleted run.
func (r *Reconciler) ObserveDeletion(_ context.Context, key types.NamespacedName) error {
	r.runs.Forget(key)
	return nil
}

// Demote stops the invocations of the runs in a bucket whose leadership
// this replica lost.
func (r *Reconciler) Demote(b pkgreconciler.Bucket) { r.runs.ForgetBucket(b) }
