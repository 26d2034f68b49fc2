package engine

import (
	"context"
	"testing"
	"time"
)

// Preparing an instance in the background runs the plugin's _initialize:
// it takes a slot from Config.PrepareSlot and holds it while it runs, so
// nothing is prepared while no slot is free, and closing the engine stops
// a preparation waiting for one.
func TestWarmPoolTakesASlot(t *testing.T) {
	granted := make(chan struct{})     // the test grants one slot per send
	released := make(chan struct{}, 2) // a release per prepared instance
	waiting := make(chan struct{}, 3)  // a PrepareSlot call started
	e, err := New(context.Background(), Config{CacheDir: testCacheDir, WarmInstances: 2,
		PrepareSlot: func(ctx context.Context) (func(), error) {
			waiting <- struct{}{}
			select {
			case <-granted:
				return func() { released <- struct{}{} }, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Compile(context.Background(), guestPlugin(t, true), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// The first invocation makes its own instance (taking no slot) and
	// starts filling the pool, which waits for a slot.
	invoke(t, p, request("mode", "echo"), Invocation{})
	<-waiting
	time.Sleep(50 * time.Millisecond)
	if n := len(p.c.warm.ready); n != 0 {
		t.Fatalf("%d instances were prepared without a slot", n)
	}
	for want := 1; want <= 2; want++ {
		granted <- struct{}{}
		waitWarm(t, p, want)
		select {
		case <-released:
		case <-time.After(30 * time.Second):
			t.Fatalf("the slot of prepared instance %d was not given back", want)
		}
		if want == 1 {
			<-waiting
		}
	}
	// Taking one has the pool prepare another: it waits for a slot, and
	// Close ends the wait.
	p.c.warm.take().close()
	p.c.warm.refill()
	<-waiting
	closed := make(chan error)
	go func() { closed <- e.Close(context.Background()) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close waits for a slot that is never granted")
	}
	if len(released) != 0 {
		t.Error("a slot was released that was never granted")
	}
}
