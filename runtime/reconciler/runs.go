package reconciler

import (
	"context"
	"errors"
	"time"

	"golang.org/x/time/rate"

	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
)

// runState is what the controller remembers about one CustomRun between
// reconciles. It lives in memory only: after a restart every run starts
// from its stored status (see the package doc on at-least-once).
//
// Ownership, the rules that keep it free of data races, by its shape:
//   - A runState is reached only through runs.Table.Get, which only the
//     run's reconcile calls (knative never reconciles one key on two
//     workers at once). Only that reconcile reads or writes its fields,
//     its job's and its status writer's.
//   - Other goroutines reach the run only through the table (package
//     runs), which cannot look inside a runState: all they can do is drop
//     the run's entry (a deletion, a new run of the same name, Demote on
//     the leader elector's goroutine), which ends ctx.
//   - An invocation's goroutine is handed copies of what it needs
//     (invocation), its context (derived from ctx) and the send side of
//     its job's outcome channel; it publishes its outcome by sending on
//     that channel, once, and touches nothing else of the run.
type runState struct {
	// ctx ends when the run's entry is dropped; every invocation of the
	// run derives from it, so dropping the run stops its invocation,
	// whichever goroutine drops it.
	ctx context.Context

	// last is the state machine's action the run is acting on: the
	// Invoke whose invocation is job, or the Wait it is waiting out; zero
	// when there is none.
	last lifecycle.Action
	// job is the invocation last asked for, in flight or ended and not
	// yet recorded in the stored status.
	job *job
	// status writes the run's status.
	status statusWriter

	// called: the run has made a call in this replica; its next calls
	// are paced (see callAt). callAt is when the tokens reserved for its
	// next call are due (zero: none reserved); pace is its token bucket.
	called bool
	callAt time.Time
	pace   *rate.Limiter
	// left: another controller writes the run's status; the conflict has
	// been reported and the run is left alone.
	left bool
}

// known is what the run's state tells the state machine: the action the
// run acts on, the outcome of its invocation once that has ended, and
// failure when no call can be made.
func (st *runState) known(failure *lifecycle.Failure) lifecycle.Known {
	k := lifecycle.Known{Last: st.last, Failure: failure}
	if st.job != nil {
		k.Outcome = st.job.ended()
	}
	return k
}

// started records that the invocation j for act is running.
func (st *runState) started(act lifecycle.Action, j *job) {
	st.last, st.job = act, j
	st.calledNow()
}

// settled records act, the machine's decision, once its status is stored:
// the job (recorded, or stopped) is forgotten, and a Wait is kept. An
// Invoke not carried out (tried again after the work queue's backoff) is
// kept as a Wait that is due at once, which keeps the attempt's deadline
// at full precision (see lifecycle's package documentation on deadlines).
func (st *runState) settled(act lifecycle.Action) {
	st.job, st.last = nil, lifecycle.Action{}
	switch act.Kind {
	case lifecycle.Wait:
		st.last = act
	case lifecycle.Invoke:
		st.last = act.WaitUntil(time.Time{})
	}
}

// stop stops the run's invocation, if any: its attempt ended without it,
// its outcome is recorded, or the run is left. The job is kept until
// that is stored.
func (st *runState) stop() {
	if st.job != nil {
		st.job.cancel()
	}
}

// interrupted returns the error that kept the invocation for act's
// attempt from running, when it may pass (an API error while preparing
// workspaces, the plugin replaced meanwhile, the engine shutting down):
// the attempt is then tried again after the work queue's backoff rather
// than at once. Deadlines, cancellations and Failures are the machine's.
func (st *runState) interrupted(act lifecycle.Action) error {
	if st.job == nil || st.job.outcome == nil || st.last.Attempt != act.Attempt {
		return nil
	}
	err := st.job.outcome.Err
	var f *lifecycle.Failure
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &f) {
		return nil
	}
	return err
}

// job is one invocation of a plugin, as the run's reconcile sees it.
type job struct {
	// cancel ends the invocation's context.
	cancel context.CancelFunc
	// done receives the invocation's outcome, once: the only thing its
	// goroutine gives back.
	done <-chan lifecycle.Outcome
	// outcome is what done delivered; nil until then.
	outcome *lifecycle.Outcome
}

// ended returns the invocation's outcome, or nil while it runs.
func (j *job) ended() *lifecycle.Outcome {
	if j.outcome == nil {
		select {
		case out := <-j.done:
			j.outcome = &out
		default:
		}
	}
	return j.outcome
}
