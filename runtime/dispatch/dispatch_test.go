package dispatch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// acquireAsync starts Acquire in a goroutine and returns a channel that
// delivers its release function once it succeeds.
func acquireAsync(t *testing.T, ctx context.Context, d *Dispatcher, group string, limit int) (<-chan func(), <-chan error) {
	t.Helper()
	got, failed := make(chan func(), 1), make(chan error, 1)
	go func() {
		release, err := d.Acquire(ctx, "ns", group, limit)
		if err != nil {
			failed <- err
			return
		}
		got <- release
	}()
	return got, failed
}

func waitQueued(t *testing.T, d *Dispatcher, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if q, _ := d.Counts(); q == want {
			return
		}
		if time.Now().After(deadline) {
			q, a := d.Counts()
			t.Fatalf("queued = %d (active %d), want %d queued", q, a, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustAcquire(t *testing.T, d *Dispatcher, group string, limit int) func() {
	t.Helper()
	release, err := d.Acquire(context.Background(), "ns", group, limit)
	if err != nil {
		t.Fatal(err)
	}
	return release
}

func expectCounts(t *testing.T, d *Dispatcher, queued, active int) {
	t.Helper()
	if q, a := d.Counts(); q != queued || a != active {
		t.Fatalf("Counts() = %d queued, %d active; want %d, %d", q, a, queued, active)
	}
}

func TestGlobalLimit(t *testing.T) {
	d := New(2)
	r1 := mustAcquire(t, d, "a", 0)
	mustAcquire(t, d, "b", 0)
	got, _ := acquireAsync(t, context.Background(), d, "c", 0)
	waitQueued(t, d, 1)
	expectCounts(t, d, 1, 2)
	r1()
	r1() // a second call is a no-op
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the queued invocation did not get the freed global slot")
	}
	expectCounts(t, d, 0, 2)
}

func TestGroupLimitHoldsNoGlobalSlot(t *testing.T) {
	d := New(2)
	r1 := mustAcquire(t, d, "a", 1)
	gotA, _ := acquireAsync(t, context.Background(), d, "a", 1)
	waitQueued(t, d, 1)
	// The waiting "a" holds no global slot: "b" still runs.
	mustAcquire(t, d, "b", 1)
	expectCounts(t, d, 1, 2)
	r1()
	select {
	case <-gotA:
	case <-time.After(5 * time.Second):
		t.Fatal("the queued invocation did not get the freed group slot")
	}
}

func TestFirstComeFirstServedWithinANamespace(t *testing.T) {
	d := New(0)
	type grant struct {
		i       int
		release func()
	}
	served := make(chan grant)
	release := mustAcquire(t, d, "a", 1)
	for i := range 3 {
		go func() {
			r, err := d.Acquire(context.Background(), "ns", "a", 1)
			if err == nil {
				served <- grant{i, r}
			}
		}()
		waitQueued(t, d, i+1)
	}
	for want := range 3 {
		release()
		select {
		case g := <-served:
			if g.i != want {
				t.Fatalf("waiter %d was served before waiter %d", g.i, want)
			}
			release = g.release
		case <-time.After(5 * time.Second):
			t.Fatalf("waiter %d was not served", want)
		}
	}
}

func TestCancelWhileQueued(t *testing.T) {
	d := New(1)
	r := mustAcquire(t, d, "a", 0)
	ctx, cancel := context.WithCancel(context.Background())
	_, failed := acquireAsync(t, ctx, d, "b", 0)
	waitQueued(t, d, 1)
	cancel()
	select {
	case err := <-failed:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire did not return when its context ended")
	}
	expectCounts(t, d, 0, 1)
	r()
	expectCounts(t, d, 0, 0)
	if len(d.groups) != 0 || len(d.global.tenants) != 0 {
		t.Errorf("idle groups or namespaces are kept: %v, %v", d.groups, d.global.tenants)
	}
}

func TestLimitChangeAppliesToNewCallers(t *testing.T) {
	d := New(0)
	mustAcquire(t, d, "a", 1)
	// The plugin's limit was raised to 2: a new caller fits.
	mustAcquire(t, d, "a", 2)
	expectCounts(t, d, 0, 2)
}

// waitFor acquires a slot for namespace in a goroutine, after waiting for
// the queue to grow to queued-1, and reports its grant on served.
func queue(t *testing.T, d *Dispatcher, namespace, group string, limit int, served chan<- string, queued int) {
	t.Helper()
	go func() {
		r, err := d.Acquire(context.Background(), namespace, group, limit)
		if err == nil {
			served <- namespace
			r()
		}
	}()
	waitQueued(t, d, queued)
}

// One namespace with 100 invocations queued does not keep another's one
// invocation waiting: the other namespace gets the next free slot, in the
// global limit and in a plugin's limit alike.
func TestNamespacesShareSlots(t *testing.T) {
	for _, tc := range []struct {
		name       string
		global     int
		group      string
		groupLimit int
	}{
		{name: "global limit", global: 1, group: "a"},
		{name: "plugin limit", group: "a", groupLimit: 1},
		{name: "global slot only", global: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(tc.global)
			release, err := d.Acquire(context.Background(), "busy", tc.group, tc.groupLimit)
			if err != nil {
				t.Fatal(err)
			}
			// Each waiter, once served, releases at once: a grant frees the
			// slot for the next.
			served := make(chan string, 101)
			for i := range 100 {
				queue(t, d, "busy", tc.group, tc.groupLimit, served, i+1)
			}
			queue(t, d, "quiet", tc.group, tc.groupLimit, served, 101)
			release()
			select {
			case ns := <-served:
				if ns != "quiet" {
					t.Fatalf("namespace %q got the freed slot; want the namespace that held none", ns)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("nobody got the freed slot")
			}
			for range 100 {
				<-served
			}
			expectCounts(t, d, 0, 0)
			if len(d.groups) != 0 || len(d.global.tenants) != 0 {
				t.Errorf("idle groups or namespaces are kept: %v, %v", d.groups, d.global.tenants)
			}
		})
	}
}

// With every slot taken by one namespace, freed slots go to the namespace
// holding fewer, until both hold the same number.
func TestFairShare(t *testing.T) {
	d := New(4)
	type grant struct {
		ns      string
		release func()
	}
	granted := make(chan grant, 20)
	var held []func()
	for range 4 {
		held = append(held, mustAcquire(t, d, "", 0)) // namespace "ns"
	}
	for i, ns := range []string{"ns", "ns", "ns", "other", "other", "other"} {
		go func() {
			r, err := d.Acquire(context.Background(), ns, "", 0)
			if err == nil {
				granted <- grant{ns, r}
			}
		}()
		waitQueued(t, d, i+1)
	}
	var order []string
	for i := range 4 {
		held[i]()
		select {
		case g := <-granted:
			order = append(order, g.ns)
		case <-time.After(5 * time.Second):
			t.Fatal("nobody got the freed slot")
		}
	}
	// "ns" held 4 and gives them back one by one: "other" gets slots
	// while it holds fewer, then "ns" gets back what it gives.
	if want := []string{"other", "other", "ns", "ns"}; strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("freed slots went to %v, want %v", order, want)
	}
}
