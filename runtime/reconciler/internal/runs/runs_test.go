package runs

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	pkgreconciler "knative.dev/pkg/reconciler"
)

type state struct{ ctx context.Context }

func newState(ctx context.Context) *state { return &state{ctx: ctx} }

func leading(types.NamespacedName) bool { return true }

func TestTable(t *testing.T) {
	var tab Table[*state]
	key := types.NamespacedName{Namespace: "ns", Name: "r"}
	a, ok := tab.Get(context.Background(), key, "uid-1", leading, newState)
	if !ok || !tab.Has(key) {
		t.Fatal("no state made")
	}
	if again, _ := tab.Get(context.Background(), key, "uid-1", leading, newState); again != a {
		t.Error("a second Get of the same run made a new state")
	}
	// A new run of the same name drops the old one's.
	b, _ := tab.Get(context.Background(), key, "uid-2", leading, newState)
	if b == a || a.ctx.Err() == nil {
		t.Error("the state of an earlier run of the same name is kept")
	}
	tab.Forget(key)
	if tab.Has(key) || b.ctx.Err() == nil {
		t.Error("Forget kept the state or its context")
	}
	// Not the leader: nothing is made.
	if _, ok := tab.Get(context.Background(), key, "uid-2", func(types.NamespacedName) bool { return false }, newState); ok || tab.Has(key) {
		t.Error("a state was made without leadership")
	}
	c, _ := tab.Get(context.Background(), key, "uid-2", leading, newState)
	tab.ForgetBucket(pkgreconciler.UniversalBucket())
	if tab.Has(key) || c.ctx.Err() == nil {
		t.Error("ForgetBucket kept the state or its context")
	}
}

// signalContext is a context of a type the context package does not know,
// as knative's signal context (the controller's lifetime) is: it ends when
// done is closed.
type signalContext struct{ done chan struct{} }

func (signalContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c signalContext) Done() <-chan struct{}     { return c.done }
func (signalContext) Value(any) any               { return nil }
func (c signalContext) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

type valueKey struct{}

// TestEntriesCostNoGoroutine: many runs under a parent of a foreign type
// cost no goroutine each, keep the parent's values and end with it.
func TestEntriesCostNoGoroutine(t *testing.T) {
	signal := signalContext{done: make(chan struct{})}
	parent := context.WithValue(signal, valueKey{}, "v")
	var tab Table[*state]
	before := runtime.NumGoroutine()
	const n = 1000
	states := make([]*state, n)
	for i := range states {
		states[i], _ = tab.Get(parent, types.NamespacedName{Namespace: "ns", Name: fmt.Sprint(i)}, "uid", leading, newState)
	}
	if grew := runtime.NumGoroutine() - before; grew > n/10 {
		t.Errorf("%d runs in the table took %d goroutines", n, grew)
	}
	if got := states[0].ctx.Value(valueKey{}); got != "v" {
		t.Errorf("a run's context lost its parent's values: %v", got)
	}
	close(signal.done)
	for i, s := range states {
		select {
		case <-s.ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d's context did not end with its parent", i)
		}
	}
}
