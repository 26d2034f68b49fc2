// Package runs is the controller's table of per-run state: one entry per
// CustomRun the reconciler is working on, made by the run's reconcile and
// dropped by it, by a deletion or by a lost leadership.
//
// The table is generic in the state it holds and never looks inside it:
// the code that goroutines other than the run's reconcile call (Has,
// Forget, ForgetBucket: the informer's filter, the leader elector's
// Demote) cannot read or write a run's state. What they can do to a run
// is drop its entry, which cancels the context the table gave the state
// when it was made; everything the run does in the background (its
// invocation) derives from that context and so stops. The state itself
// is reached only through Get, which the run's reconcile alone calls.
package runs

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	pkgreconciler "knative.dev/pkg/reconciler"
)

// Table holds the state S of each run by key. It is safe for concurrent
// use; its lock guards the map and the base context only, never a state. The zero value is an
// empty table.
type Table[S any] struct {
	mu   sync.Mutex
	runs map[types.NamespacedName]*entry[S]
	// parent is the context of the first Get, and base the cancelable
	// context derived from it that the entries of parent derive from (see
	// Get).
	parent, base context.Context
}

// entry is a run's place in the table: uid and drop never change after it
// is made; state is handed out only by Get.
type entry[S any] struct {
	uid   types.UID
	drop  context.CancelFunc
	state S
}

// Get returns the state of key for the run uid. If there is none, or it
// belonged to an earlier run of the same name (which is dropped), it makes
// one with newState, passing a context derived from parent that ends when
// the entry is dropped (through one context of the table's own, made at
// the first Get, when parent is the first Get's: the context package
// watches a parent of a type it does not know, such as knative's signal
// context, with a goroutine for each context derived from it, so deriving
// each run's from it directly would cost a goroutine per run, for as long
// as the run is in the table). It returns false, making nothing, when leader says
// this replica does not lead key: leadership was lost after the reconcile
// began. knative removes a bucket from the replica's buckets before it
// calls Demote, and ForgetBucket takes the table's lock, so an entry made
// here is either seen and dropped by ForgetBucket or never made. Only the
// run's reconcile may call Get and use the state it returns.
func (t *Table[S]) Get(parent context.Context, key types.NamespacedName, uid types.UID,
	leader func(types.NamespacedName) bool, newState func(context.Context) S) (S, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.runs[key]
	if e != nil && e.uid == uid {
		return e.state, true
	}
	if e != nil {
		e.drop()
		delete(t.runs, key)
	}
	if !leader(key) {
		var none S
		return none, false
	}
	if t.runs == nil {
		t.runs = map[types.NamespacedName]*entry[S]{}
	}
	ctx, drop := context.WithCancel(t.derivable(parent))
	e = &entry[S]{uid: uid, drop: drop, state: newState(ctx)}
	t.runs[key] = e
	return e.state, true
}

// derivable returns the context to derive an entry's context of parent
// from: base for the parent of the first Get, parent itself for another.
// Called with the lock held.
func (t *Table[S]) derivable(parent context.Context) context.Context {
	if t.base == nil {
		// parent's values; ended by parent's end, which one goroutine
		// watches (context.AfterFunc), for as long as parent lives.
		base, cancel := context.WithCancel(context.WithoutCancel(parent))
		context.AfterFunc(parent, cancel)
		t.parent, t.base = parent, base
	}
	if parent != t.parent {
		return parent
	}
	return t.base
}

// Has reports whether there is an entry for key.
func (t *Table[S]) Has(key types.NamespacedName) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.runs[key] != nil
}

// Forget drops the entry of key, ending its context.
func (t *Table[S]) Forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.runs[key]; e != nil {
		e.drop()
		delete(t.runs, key)
	}
}

// ForgetBucket drops the entry of every run in b (leadership of b lost:
// another replica runs them now), ending their contexts.
func (t *Table[S]) ForgetBucket(b pkgreconciler.Bucket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, e := range t.runs {
		if b.Has(key) {
			e.drop()
			delete(t.runs, key)
		}
	}
}
