// Package lifecycle is the CustomRun state machine: the one implementation
// of Tekton's custom-task rules (validation, start, per-attempt timeout,
// cancellation, retries, Running/requeueAfter, results) shared by the
// controller and the local runner, so the two cannot drift apart.
//
// It is pure: no cluster, no sandbox, no goroutines. Time comes from an
// injected clock. A caller drives it in two calls:
//
//	act := m.Step(run)            // validate, start, cancel, time out
//	... if act.Kind == Invoke: resp, err := plugin.Invoke(ctx, m.Request(run, act))
//	act = m.Record(run, act, Outcome{resp, err}) // apply one attempt's outcome
//
// and acts on the returned Action: Invoke the plugin now, Wait until
// Action.At and Step again, or stop at Done. Both calls only ever mutate
// run.Status.
//
// Every decision is bounded: one call of Step or Record ends at most one
// attempt (archiving it in retriesStatus) and never loops or recurses over
// attempts. A new attempt starts at the instant of the call that starts it,
// so its deadline lies ahead of that instant and the call returns Invoke
// for it; when the deadline has passed by the next Step (a timeout shorter
// than the caller's turnaround), that Step ends it and starts the next
// one. So a run whose attempts all time out at once takes one call per
// attempt, each returning to the caller, which writes the status as it
// does after any call (the controller) or simply goes on (the local
// runner). Specs whose retriesStatus could never fit in a CustomRun
// (spec.retries above MaxRetries) end at once with
// CustomRunValidationFailed instead of being attempted.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
)

// DefaultTimeout is Tekton's default timeout for a run that sets none.
const DefaultTimeout = 60 * time.Minute

// Retries beyond what a CustomRun can hold are refused before any attempt.
const (
	// MaxObjectBytes is the size of the largest object the apiserver
	// stores: etcd's default request limit, 1.5 MiB.
	MaxObjectBytes = 3 << 19
	// MinRetryStatusBytes is less than one retriesStatus entry adds to a
	// CustomRun: the JSON of its Succeeded condition (type, status, reason
	// and transition time; a message adds more) and its start and
	// completion times.
	MinRetryStatusBytes = 128
	// MaxRetries is the most spec.retries a run may ask for: the number of
	// the smallest retriesStatus entries that fill MaxObjectBytes. A run
	// with more retries could never record them all, so it ends
	// CustomRunValidationFailed at once, saying so.
	MaxRetries = MaxObjectBytes / MinRetryStatusBytes
)

// Condition reasons the state machine sets. CustomRunCancelled and
// CustomRunTimedOut are Tekton's own. Workspaces are not the machine's:
// runtime/workspace owns their rules and reasons (Tekton's
// CustomRunWorkspaceNotSupported among them), and the runners end a run
// with them through Fail.
const (
	ReasonStarted   = "Started"
	ReasonRetrying  = "Retrying"
	ReasonSucceeded = string(v1beta1.CustomRunReasonSuccessful)
	ReasonFailed    = string(v1beta1.CustomRunReasonFailed)
	ReasonRunning   = string(v1beta1.CustomRunReasonRunning)
	ReasonCancelled = string(v1beta1.CustomRunReasonCancelled)
	ReasonTimedOut  = string(v1beta1.CustomRunReasonTimedOut)
	// ReasonValidationFailed ends a run whose spec breaks the CustomRun
	// contract (both or neither of customRef and customSpec, no apiVersion
	// or kind, spec.retries negative or above MaxRetries).
	ReasonValidationFailed = "CustomRunValidationFailed"
)

// Machine applies the CustomRun rules. The zero value is not usable: set
// Clock. It holds no per-run state and is safe for concurrent use.
type Machine struct {
	// Clock is the source of every timestamp and every timeout decision.
	Clock clock.PassiveClock
	// DefaultTimeout applies to runs without spec.timeout. Zero means
	// DefaultTimeout (60 minutes). spec.timeout of 0s always means "no
	// timeout".
	DefaultTimeout time.Duration
}

// ActionKind says what the caller must do next.
type ActionKind int

const (
	// Done: the run has ended (Succeeded is True or False).
	Done ActionKind = iota
	// Invoke: call the plugin now, with Request(run, action).
	Invoke
	// Wait: the plugin asked to be called again later; call Step at At.
	Wait
)

func (k ActionKind) String() string {
	return [...]string{"Done", "Invoke", "Wait"}[k]
}

// Action is the state machine's instruction to its caller.
type Action struct {
	Kind ActionKind
	// Attempt is the 1-based attempt number (Invoke and Wait).
	Attempt int
	// Deadline ends the current attempt; zero when the run has no timeout.
	// An invocation must be stopped at Deadline.
	Deadline time.Time
	// At is when to Step again (Wait only); never after Deadline.
	At time.Time
}

// Outcome is what one invocation produced: the plugin's Response (host
// failures are Failed responses with a host reason, see hostabi), or Err
// when the host stopped the invocation: context.DeadlineExceeded when the
// attempt's deadline passed, context.Canceled when it was interrupted
// (cancellation, shutdown).
type Outcome struct {
	Response *hostabi.Response
	Err      error
}

func (m *Machine) now() time.Time { return m.Clock.Now() }

// Timeout is the per-attempt timeout of run; 0 means none.
func (m *Machine) Timeout(run *v1beta1.CustomRun) time.Duration {
	if run.Spec.Timeout != nil {
		return run.Spec.Timeout.Duration
	}
	if m.DefaultTimeout > 0 {
		return m.DefaultTimeout
	}
	return DefaultTimeout
}

// Step brings run up to date without a plugin call: it ends an invalid or
// cancelled run, or a timed-out attempt (starting the next one where
// retries are left), starts a new run, and says what to do next. It ends
// at most one attempt per call (see the package documentation).
func (m *Machine) Step(run *v1beta1.CustomRun) Action {
	if run.IsDone() {
		return Action{Kind: Done}
	}
	now := m.now()
	if !run.HasStarted() {
		run.Status.StartTime = &metav1.Time{Time: now}
		m.setSucceeded(&run.Status, corev1.ConditionUnknown, ReasonStarted, "")
	}
	if reason, msg := validate(run); reason != "" {
		m.finish(&run.Status, corev1.ConditionFalse, reason, msg)
		return Action{Kind: Done}
	}
	if run.IsCancelled() {
		msg := string(run.Spec.StatusMessage)
		if msg == "" {
			msg = fmt.Sprintf("CustomRun %q was cancelled", run.Name)
		}
		m.finish(&run.Status, corev1.ConditionFalse, ReasonCancelled, msg)
		return Action{Kind: Done}
	}
	act := m.current(run)
	if !act.Deadline.IsZero() && !now.Before(act.Deadline) {
		return m.timedOut(run, act)
	}
	return act
}

// Record applies the outcome of the invocation that act (from Step) asked
// for. An outcome for a run that has ended meanwhile is dropped. Like
// Step, it ends at most one attempt per call.
func (m *Machine) Record(run *v1beta1.CustomRun, act Action, out Outcome) Action {
	if run.IsDone() || act.Attempt != m.current(run).Attempt {
		return m.Step(run)
	}
	switch {
	case out.Err != nil && run.IsCancelled():
		return m.Step(run)
	case errors.Is(out.Err, context.DeadlineExceeded):
		return m.timedOut(run, act)
	case out.Err != nil:
		// Interrupted for another reason (shutdown): the attempt has not
		// ended and runs again (at-least-once).
		return m.Step(run)
	case out.Response == nil:
		panic("lifecycle: Outcome has neither Response nor Err")
	}
	r := out.Response
	switch r.Status {
	case hostabi.StatusSucceeded:
		run.Status.Results = results(r.Results)
		run.Status.ExtraFields = raw(r.ExtraFields)
		m.finish(&run.Status, corev1.ConditionTrue, orDefault(r.Reason, ReasonSucceeded), r.Message)
		return Action{Kind: Done}
	case hostabi.StatusRunning:
		run.Status.ExtraFields = raw(r.ExtraFields)
		m.setSucceeded(&run.Status, corev1.ConditionUnknown, orDefault(r.Reason, ReasonRunning), r.Message)
		wait := max(r.RequeueAfter.Duration, hostabi.MinRequeueAfter)
		act.Kind, act.At = Wait, m.now().Add(wait)
		if !act.Deadline.IsZero() && act.At.After(act.Deadline) {
			act.At = act.Deadline
		}
		return act
	default:
		run.Status.ExtraFields = raw(r.ExtraFields)
		return m.attemptFailed(run, orDefault(r.Reason, ReasonFailed), r.Message)
	}
}

// current describes the attempt in progress.
func (m *Machine) current(run *v1beta1.CustomRun) Action {
	act := Action{Kind: Invoke, Attempt: len(run.Status.RetriesStatus) + 1}
	if t := m.Timeout(run); t > 0 && run.Status.StartTime != nil {
		act.Deadline = run.Status.StartTime.Add(t)
	}
	return act
}

func (m *Machine) timedOut(run *v1beta1.CustomRun, act Action) Action {
	return m.attemptFailed(run, ReasonTimedOut, fmt.Sprintf("CustomRun %q timed out after %s (attempt %d of %d)",
		run.Name, m.Timeout(run), act.Attempt, run.Spec.Retries+1))
}

// attemptFailed ends the current attempt as failed: with retries left it
// archives the attempt in retriesStatus and starts the next one, which it
// returns (never ending that one too, whatever its timeout); otherwise the
// run ends False.
func (m *Machine) attemptFailed(run *v1beta1.CustomRun, reason, msg string) Action {
	attempt := len(run.Status.RetriesStatus) + 1
	if attempt > run.Spec.Retries {
		m.finish(&run.Status, corev1.ConditionFalse, reason, msg)
		return Action{Kind: Done}
	}
	// The archived attempt is the status without the attempts before it,
	// which are copied neither here nor into it.
	earlier := run.Status.RetriesStatus
	run.Status.RetriesStatus = nil
	archived := run.Status.DeepCopy()
	m.finish(archived, corev1.ConditionFalse, reason, msg)
	run.Status.RetriesStatus = append(earlier, *archived)
	run.Status.StartTime = &metav1.Time{Time: m.now()}
	run.Status.CompletionTime = nil
	run.Status.Results = nil
	run.Status.ExtraFields = runtime.RawExtension{}
	m.setSucceeded(&run.Status, corev1.ConditionUnknown, ReasonRetrying,
		fmt.Sprintf("Attempt %d of %d failed (%s); starting attempt %d", attempt, run.Spec.Retries+1, reason, attempt+1))
	return m.current(run)
}

// Fail ends run False at once with reason and message, without consuming
// retries: for host-side problems no further attempt can fix, such as a
// missing or broken plugin, an unresolvable customRef or a workspace the
// run's service account may not read. A run that has ended is left as is.
func (m *Machine) Fail(run *v1beta1.CustomRun, reason, msg string) Action {
	if run.IsDone() {
		return Action{Kind: Done}
	}
	if !run.HasStarted() {
		run.Status.StartTime = &metav1.Time{Time: m.now()}
	}
	m.finish(&run.Status, corev1.ConditionFalse, reason, msg)
	return Action{Kind: Done}
}
