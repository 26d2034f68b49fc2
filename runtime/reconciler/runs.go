package reconciler

import (
	"context"
	"sync"
	"time"

	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"k8s.io/apimachinery/pkg/types"
	pkgreconciler "knative.dev/pkg/reconciler"
)

// runState is what the controller remembers about one CustomRun between
// reconciles. It lives in memory only: after a restart every run starts
// from its stored status (see the package doc on at-least-once).
// A reconcile of the run is the only reader and writer of its fields
// (knative never reconciles one key on two workers at once); the
// invocation's goroutine touches only its job's outcome, published by
// closing job.done.
type runState struct {
	uid types.UID
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
}

// job is one invocation of a plugin for one attempt of a run.
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
type runTable struct {
	mu   sync.Mutex
	runs map[types.NamespacedName]*runState
}

// get returns the state of key, a fresh one if there is none or if it
// belonged to an earlier run of the same name (whose job is cancelled).
func (t *runTable) get(key types.NamespacedName, uid types.UID) *runState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.runs == nil {
		t.runs = map[types.NamespacedName]*runState{}
	}
	st := t.runs[key]
	if st != nil && st.uid == uid {
		return st
	}
	if st != nil && st.job != nil {
		st.job.cancel()
	}
	st = &runState{uid: uid}
	t.runs[key] = st
	return st
}

// has reports whether there is state for key.
func (t *runTable) has(key types.NamespacedName) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.runs[key] != nil
}

// forget drops the state of key, cancelling its invocation.
func (t *runTable) forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.runs[key]; st != nil && st.job != nil {
		st.job.cancel()
	}
	delete(t.runs, key)
}

// forgetBucket drops the state of every run in b (leadership of b lost:
// another replica runs them now).
func (t *runTable) forgetBucket(b pkgreconciler.Bucket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, st := range t.runs {
		if b.Has(key) {
			if st.job != nil {
				st.job.cancel()
			}
			delete(t.runs, key)
		}
	}
}
