package reconciler

import (
	"context"
	"sync"
	"time"

	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
	pkgreconciler "knative.dev/pkg/reconciler"
)

// runState is what the controller remembers about one CustomRun between
// reconciles. It lives in memory only: after a restart every run starts
// from its stored status (see the package doc on at-least-once).
//
// Ownership, the rules that keep it free of data races:
//   - uid, ctx and drop are set when the state is made and never change;
//     any goroutine may read them. drop (a context.CancelFunc) is the only
//     thing another goroutine does to a state: runTable.forget and
//     forgetBucket (the leader elector's goroutine, on Demote) call it.
//   - Every other field belongs to the reconcile of the run: only it reads
//     or writes them (knative never reconciles one key on two workers at
//     once, and the state of a key is reached only through its reconcile).
//   - A job's invocation goroutine reads what submit gave it before it
//     started and writes only job.outcome, published by closing job.done;
//     the reconcile reads the outcome only after done is closed.
//
// Every invocation's context derives from ctx, so dropping the state
// (deletion, a new run of the same name, lost leadership) stops the
// invocation it has or is about to start, whichever goroutine drops it.
type runState struct {
	uid  types.UID
	ctx  context.Context
	drop context.CancelFunc

	// job is the invocation in flight, or finished and not yet recorded
	// in the stored status.
	job *job
	// waitAttempt and waitUntil hold the last Wait action: the plugin
	// asked to be called again, for that attempt, not before waitUntil.
	waitAttempt int
	waitUntil   time.Time
	// writtenOver is the resourceVersion our last status write replaced.
	// While the informer still shows it, its copy predates our write and
	// must not be acted on.
	writtenOver string
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

// job is one invocation of a plugin for one attempt of a run. Its fields
// belong to the run's reconcile, except outcome (see runState).
type job struct {
	act       lifecycle.Action
	submitted time.Time
	// base is the stored status when the job was submitted; pending, when
	// not nil, is the status the state machine produced then (the attempt
	// started, a retry archived) and that is not stored yet: it is stored
	// when the job ends, or after Reconciler.StatusDelay, so a plugin that
	// answers at once costs one status write.
	base    v1beta1.CustomRunStatus
	pending *v1beta1.CustomRunStatus
	// cancel ends the invocation's context (derived from runState.ctx):
	// the reconcile calls it when the attempt ends without the
	// invocation, the invocation's goroutine when it returns.
	cancel  context.CancelFunc
	done    chan struct{}
	outcome lifecycle.Outcome // set before done is closed
}

// finished reports whether the invocation has ended.
func (j *job) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// runTable holds the runState of every run the controller is working on.
// mu guards the map only, never a state's fields.
type runTable struct {
	mu   sync.Mutex
	runs map[types.NamespacedName]*runState
}

// get returns the state of key, a fresh one (whose context derives from
// parent) if there is none or if it belonged to an earlier run of the same
// name (which is dropped). It returns nil, making nothing, when leader
// says this replica does not lead key: leadership was lost after the
// reconcile began. knative removes a bucket from the replica's buckets
// before it calls Demote, and forgetBucket takes mu, so a state made here
// is either seen and dropped by forgetBucket or never made.
func (t *runTable) get(parent context.Context, key types.NamespacedName, uid types.UID, leader func(types.NamespacedName) bool) *runState {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.runs[key]
	if st != nil && st.uid == uid {
		return st
	}
	if st != nil {
		st.drop()
		delete(t.runs, key)
	}
	if !leader(key) {
		return nil
	}
	if t.runs == nil {
		t.runs = map[types.NamespacedName]*runState{}
	}
	st = &runState{uid: uid}
	st.ctx, st.drop = context.WithCancel(parent)
	t.runs[key] = st
	return st
}

// has reports whether there is state for key.
func (t *runTable) has(key types.NamespacedName) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.runs[key] != nil
}

// forget drops the state of key, stopping its invocation.
func (t *runTable) forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.runs[key]; st != nil {
		st.drop()
		delete(t.runs, key)
	}
}

// forgetBucket drops the state of every run in b (leadership of b lost:
// another replica runs them now), stopping their invocations. It touches
// nothing but the table and each state's drop, so it may run on any
// goroutine.
func (t *runTable) forgetBucket(b pkgreconciler.Bucket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, st := range t.runs {
		if b.Has(key) {
			st.drop()
			delete(t.runs, key)
		}
	}
}
