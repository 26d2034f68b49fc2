// Package lifecycle is the CustomRun state machine: the one implementation
// of Tekton's custom-task rules (validation, start, per-attempt timeout,
// cancellation, retries, Running/requeueAfter, results) shared by the
// controller and the local runner, so the two cannot drift apart.
//
// It is pure: no cluster, no sandbox, no goroutines. Time comes from an
// injected clock. A caller enters it once per decision, with Step, and
// builds each request whole with Request:
//
//	act := m.Step(run, Known{})                  // validate, start, cancel, time out
//	for act.Kind != Done {
//		switch act.Kind {
//		case Invoke: // call the plugin now
//			req := m.Request(run, act, Inputs{Spec: spec, Workspaces: ws})
//			out := Outcome{...plugin.Invoke(ctx, req)...}
//			act = m.Step(run, Known{Last: act, Outcome: &out})
//		case Wait: // keep act; Step again once act.Due(now)
//			act = m.Step(run, Known{Last: act})
//		}
//	}
//
// A caller whose invocations run elsewhere (the controller) keeps the
// Invoke while it runs and gives it back as Known.Last: Step answers
// Await until it passes the outcome. A host-side problem that no attempt
// can fix ends the run through Step too: as Known.Failure (no call can be
// made) or as an Outcome whose Err is a *Failure (the invocation could not
// run). Step only ever mutates run.Status; Request only reads run.
//
// Every decision is bounded: one call of Step ends at most one
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
//
// Deadlines. An attempt's deadline is its start plus the timeout, at full
// precision: the action that starts an attempt carries its deadline, and
// so does every later action of that attempt (Invoke, Wait, Await) that
// the caller gives back as Known.Last; Step keeps that deadline rather
// than deriving it again from status.startTime, which the apiserver
// stores in whole seconds (a 500ms timeout started at 10:00:00.9 would
// otherwise end at 10:00:00.5, before its first call). A caller without
// an action of the attempt (a new process after a restart; a Known.Last
// that is zero or of an earlier attempt) gets the deadline derived from
// the stored status: status.startTime + the timeout, which may be up to a
// second earlier than the real one, never later.
//
// Clean-up. A run cancelled, or an attempt timed out, after a call of the
// attempt answered Running (the plugin started something outside) owes
// the plugin one clean-up call before the attempt ends: Step returns
// Cleanup instead of ending it, Request marks that call's request
// (hostabi.Request.Cleanup, with why), and once the caller gives back its
// outcome, or its grace deadline has passed, Step ends the attempt as it
// would have without it (CustomRunCancelled, or CustomRunTimedOut with
// the next attempt started when retries are left); the clean-up call's
// answer is ignored. The machine knows a Running answer happened from the
// stored status alone: the Succeeded condition is Unknown with a reason
// other than Started and Retrying (the reasons a new attempt starts with,
// which the ABI forbids a plugin to answer), so the debt survives a
// restart. What does not survive is the clean-up in flight: a caller that
// forgets it (a restart) is given a new Cleanup with a new grace period,
// so a clean-up call may be made again: at least once per attempt owing
// one, like every other call. There is at most one per attempt while the
// caller remembers it: a cancellation during a timed-out attempt's
// clean-up does not start another.
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
	"knative.dev/pkg/apis"
)

// DefaultTimeout is Tekton's default timeout for a run that sets none.
const DefaultTimeout = 60 * time.Minute

// DefaultCleanupGrace bounds a clean-up call when the plugin's manifest
// sets no limits.cleanup: long enough for a plugin to make a request or
// two to the system it started something in, short enough that a
// cancelled run ends promptly.
const DefaultCleanupGrace = 10 * time.Second

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
// with them through Step, as a Failure.
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
	// CleanupGrace bounds a clean-up call (see the package documentation).
	// Zero means DefaultCleanupGrace.
	CleanupGrace time.Duration
}

// ActionKind says what the caller must do next.
type ActionKind int

const (
	// Done: the run has ended (Succeeded is True or False).
	Done ActionKind = iota
	// Invoke: call the plugin now, with Request(run, action, inputs), and
	// Step again with the outcome.
	Invoke
	// Wait: the plugin asked to be called again later, or the caller
	// paces its calls; keep the action and Step again at At.
	Wait
	// Await: the invocation the caller's Known.Last asked for is still
	// running; wait for its outcome, at most until Deadline.
	Await
	// Cleanup: make the attempt's clean-up call now, with Request(run,
	// action, inputs), stop it at Deadline (the end of its grace period,
	// not the attempt's), and Step again with its outcome, as for an
	// Invoke. Whatever it answers, the attempt then ends for Action.Cleanup.
	Cleanup
)

func (k ActionKind) String() string {
	return [...]string{"Done", "Invoke", "Wait", "Await", "Cleanup"}[k]
}

// Action is the state machine's instruction to its caller. A caller keeps
// the action it acts on and gives it back to Step as Known.Last.
type Action struct {
	Kind ActionKind
	// Attempt is the 1-based attempt number (Invoke, Wait and Await).
	Attempt int
	// Deadline ends the current attempt; zero when the run has no timeout.
	// An invocation must be stopped at Deadline.
	Deadline time.Time
	// At is when to Step again (Wait only); never after Deadline.
	At time.Time
	// Cleanup is why the attempt is cleaned up, for a Cleanup and the
	// Await of its call; empty for every other action.
	Cleanup hostabi.CleanupReason
}

// Due reports whether the time of a Wait has come at now. Every other
// action is due at once.
func (a Action) Due(now time.Time) bool { return a.Kind != Wait || !now.Before(a.At) }

// WaitUntil returns a Wait for a's attempt until t, or until a's
// deadline if that comes first: how a caller that paces its calls puts
// off an Invoke.
func (a Action) WaitUntil(t time.Time) Action {
	if !a.Deadline.IsZero() && t.After(a.Deadline) {
		t = a.Deadline
	}
	return Action{Kind: Wait, Attempt: a.Attempt, Deadline: a.Deadline, At: t}
}

// Outcome is what one invocation produced: the plugin's Response (host
// failures are Failed responses with a host reason, see hostabi), or Err
// when the host stopped the invocation: context.DeadlineExceeded when the
// attempt's deadline passed, context.Canceled when it was interrupted
// (cancellation, shutdown), a *Failure when a problem no attempt can fix
// kept it from running (the run ends with it, without consuming retries).
// Any other Err means the invocation was interrupted before it ran: the
// attempt has not ended and is called again.
type Outcome struct {
	Response *hostabi.Response
	Err      error
}

// Failure is a host-side problem that no further attempt can fix, such
// as a missing or broken plugin, an unresolvable customRef or a workspace
// the run's service account may not read: it ends the run False with
// Reason and Message, without consuming retries.
type Failure struct {
	Reason, Message string
}

func (f *Failure) Error() string { return f.Reason + ": " + f.Message }

// Known is what the caller knows beyond the run itself when it asks the
// machine for the next action.
type Known struct {
	// Last is the action the caller is acting on: the Invoke whose
	// invocation is running or has ended (Outcome), or the Wait it is
	// waiting out. Zero when it has none (a new run, or after a restart:
	// a forgotten Wait is due, an invocation forgotten runs again).
	Last Action
	// Outcome is the outcome of the invocation Last asked for, once it
	// has ended; nil while it runs.
	Outcome *Outcome
	// Failure, when not nil, says no call can be made now (the plugin is
	// broken): a call that falls due ends the run with it instead. It
	// does not stop an invocation in flight, nor end a Wait early.
	Failure *Failure
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

// Step is the one decision of the state machine: it brings run up to
// date with what the caller knows and says what to do next. In order, it
// ends an invalid or cancelled run, or a timed-out attempt (starting the
// next one where retries are left), and starts a new run; then, while
// the attempt of known.Last stands, it records known.Outcome, or answers
// Await while that invocation runs, or gives Last back while its Wait is
// not due; a call that is then due ends the run with known.Failure when
// that is set. It ends at most one attempt per call (see the package
// documentation) and only ever mutates run.Status.
func (m *Machine) Step(run *v1beta1.CustomRun, known Known) Action {
	if last := known.Last; last.Cleanup != "" && !run.IsDone() && last.Attempt == attemptOf(run) {
		if known.Outcome == nil && m.now().Before(last.Deadline) {
			return Action{Kind: Await, Attempt: last.Attempt, Deadline: last.Deadline, Cleanup: last.Cleanup}
		}
		return m.end(run, last) // the clean-up call is over, whatever it answered
	}
	act := m.advance(run, known.Last)
	if act.Kind != Invoke {
		return act
	}
	if last := known.Last; last.Attempt == act.Attempt {
		switch {
		case (last.Kind == Invoke || last.Kind == Await) && known.Outcome != nil:
			if act = m.record(run, act, *known.Outcome); act.Kind != Invoke {
				return act
			}
		case last.Kind == Invoke || last.Kind == Await:
			return Action{Kind: Await, Attempt: act.Attempt, Deadline: act.Deadline}
		case !last.Due(m.now()):
			return last
		}
	}
	if f := known.Failure; f != nil {
		return m.Fail(run, f.Reason, f.Message)
	}
	return act
}

// advance brings run up to date without an outcome: it ends an invalid
// or cancelled run, or a timed-out attempt, and starts a new run. It
// returns Done or Invoke for the attempt in progress, whose deadline is
// last's when last is an action of that attempt (see current).
func (m *Machine) advance(run *v1beta1.CustomRun, last Action) Action {
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
	act := m.current(run)
	if last.Attempt == act.Attempt && last.Cleanup == "" {
		act.Deadline = last.Deadline
	}
	if run.IsCancelled() {
		return m.endOrCleanup(run, act, hostabi.CleanupCancelled)
	}
	if !act.Deadline.IsZero() && !now.Before(act.Deadline) {
		return m.endOrCleanup(run, act, hostabi.CleanupTimedOut)
	}
	return act
}

// endOrCleanup ends act's attempt for why (the run, when it was
// cancelled), or first returns the attempt's clean-up call when it owes
// one: when a call of the attempt answered Running.
func (m *Machine) endOrCleanup(run *v1beta1.CustomRun, act Action, why hostabi.CleanupReason) Action {
	if c := run.Status.GetCondition(apis.ConditionSucceeded); c != nil && c.IsUnknown() &&
		c.Reason != ReasonStarted && c.Reason != ReasonRetrying {
		return Action{Kind: Cleanup, Attempt: act.Attempt, Deadline: m.now().Add(m.cleanupGrace()), Cleanup: why}
	}
	act.Cleanup = why
	return m.end(run, act)
}

// end ends the attempt of act for act.Cleanup, with no (more) clean-up
// call: the run as cancelled, or the attempt as timed out.
func (m *Machine) end(run *v1beta1.CustomRun, act Action) Action {
	if act.Cleanup == hostabi.CleanupCancelled {
		msg := string(run.Spec.StatusMessage)
		if msg == "" {
			msg = fmt.Sprintf("CustomRun %q was cancelled", run.Name)
		}
		m.finish(&run.Status, corev1.ConditionFalse, ReasonCancelled, msg)
		return Action{Kind: Done}
	}
	return m.timedOut(run, act)
}

func (m *Machine) cleanupGrace() time.Duration {
	if m.CleanupGrace > 0 {
		return m.CleanupGrace
	}
	return DefaultCleanupGrace
}

// attemptOf is the number of run's attempt in progress.
func attemptOf(run *v1beta1.CustomRun) int { return len(run.Status.RetriesStatus) + 1 }

// record applies the outcome of the invocation for act, the attempt in
// progress of a run that advance has brought up to date.
func (m *Machine) record(run *v1beta1.CustomRun, act Action, out Outcome) Action {
	var f *Failure
	switch {
	case errors.As(out.Err, &f):
		return m.Fail(run, f.Reason, f.Message)
	case errors.Is(out.Err, context.DeadlineExceeded):
		return m.endOrCleanup(run, act, hostabi.CleanupTimedOut)
	case out.Err != nil:
		// Interrupted for another reason (shutdown, or before it could
		// start): the attempt has not ended and runs again
		// (at-least-once).
		return act
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
		return act.WaitUntil(m.now().Add(max(r.RequeueAfter.Duration, hostabi.MinRequeueAfter)))
	default:
		run.Status.ExtraFields = raw(r.ExtraFields)
		return m.attemptFailed(run, orDefault(r.Reason, ReasonFailed), r.Message)
	}
}

// current describes the attempt in progress, its deadline derived from
// the stored status: status.startTime + the timeout. A stored startTime
// has whole seconds (metav1.Time), so this deadline may fall up to a
// second before the one the attempt started with, which the actions of
// the attempt carry: advance prefers those (see the package documentation
// on deadlines).
func (m *Machine) current(run *v1beta1.CustomRun) Action {
	act := Action{Kind: Invoke, Attempt: attemptOf(run)}
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
	attempt := attemptOf(run)
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
// retries, whatever it would do next: a Failure (see Step) for a caller
// that must end the run from the status it last stored, such as one whose
// status the apiserver refuses. A run that has ended is left as is.
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
