package runs

import (
	"context"
	"testing"

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
