// Package dispatch bounds how many plugin invocations run at once: one
// global limit for the controller and, within it, a limit per group (one
// group per plugin).
//
// Slots are shared fairly between namespaces, so that one namespace with
// many queued invocations cannot hold every slot: when a slot frees, it
// goes to the waiting namespace that holds the fewest slots of that limit,
// ties going to the namespace served least recently (round robin). Within
// a namespace, waiters are served first come, first served. A waiter gives
// up when its context ends, so a queued invocation never outlives its
// run's deadline or cancellation.
//
// A slot is taken in the group first and globally second: an invocation
// whose plugin is at its own limit waits without holding a global slot
// that another plugin could use.
package dispatch

import (
	"container/heap"
	"container/list"
	"context"
	"sync"
)

// Dispatcher hands out invocation slots. It is safe for concurrent use.
type Dispatcher struct {
	mu     sync.Mutex
	global *limiter
	groups map[string]*limiter
	queued int
	grants uint64 // slots granted so far: orders namespaces by when they were last served
}

// New returns a Dispatcher allowing at most global invocations at once
// (0: no global limit).
func New(global int) *Dispatcher {
	return &Dispatcher{global: newLimiter("", global), groups: map[string]*limiter{}}
}

// limiter counts the slots of one group (or the global slots). Its fields
// are guarded by Dispatcher.mu.
type limiter struct {
	name    string
	limit   int // global only; groups take the limit of each waiter
	active  int
	tenants map[string]*tenant // namespaces holding or waiting for a slot
	waiting tenantQueue        // tenants with waiters, the next to serve first
}

func newLimiter(name string, limit int) *limiter {
	return &limiter{name: name, limit: limit, tenants: map[string]*tenant{}}
}

// tenant is one namespace's share of a limiter.
type tenant struct {
	namespace string
	active    int       // slots held
	served    uint64    // Dispatcher.grants when it last got a slot
	waiters   list.List // of *waiter, oldest first
	index     int       // in limiter.waiting; -1 when not waiting
}

type waiter struct {
	limit int
	ready chan struct{} // closed when the slot is granted
}

func fits(active, limit int) bool { return limit <= 0 || active < limit }

// Acquire waits until group has fewer than limit invocations running
// (limit <= 0: no group limit; group "": the global slot only) and a
// global slot is free, then takes both for namespace and returns the
// function that gives them back, which must be called exactly once. A
// limit applies to the caller that passes it, so a plugin whose limit
// changes takes the new limit for new invocations at once. Acquire
// returns ctx.Err() if ctx ends first, holding nothing.
func (d *Dispatcher) Acquire(ctx context.Context, namespace, group string, limit int) (release func(), err error) {
	var gl *limiter // the group's limiter, and the namespace's share of it
	var g *tenant
	if group != "" {
		d.mu.Lock()
		if gl = d.groups[group]; gl == nil {
			gl = newLimiter(group, 0)
			d.groups[group] = gl
		}
		if g, err = d.take(ctx, gl, namespace, limit); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	t, err := d.take(ctx, d.global, namespace, d.global.limit)
	if err != nil {
		if g != nil {
			d.give(gl, g)
		}
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			d.give(d.global, t)
			if g != nil {
				d.give(gl, g)
			}
		})
	}, nil
}

// take takes a slot of l for namespace and returns the namespace's
// tenant. It is called with d.mu held and returns with d.mu released.
func (d *Dispatcher) take(ctx context.Context, l *limiter, namespace string, limit int) (*tenant, error) {
	t := l.tenants[namespace]
	if t == nil {
		t = &tenant{namespace: namespace, index: -1}
		l.tenants[namespace] = t
	}
	if l.waiting.Len() == 0 && fits(l.active, limit) {
		d.grant(l, t)
		d.mu.Unlock()
		return t, nil
	}
	w := &waiter{limit: limit, ready: make(chan struct{})}
	e := t.waiters.PushBack(w)
	if t.index < 0 {
		heap.Push(&l.waiting, t)
	}
	d.queued++
	d.mu.Unlock()

	select {
	case <-w.ready:
		return t, nil
	case <-ctx.Done():
	}
	d.mu.Lock()
	select {
	case <-w.ready:
		// Granted while ctx ended: hand the slot on.
		d.mu.Unlock()
		d.give(l, t)
	default:
		t.waiters.Remove(e)
		if t.waiters.Len() == 0 {
			heap.Remove(&l.waiting, t.index)
		}
		d.queued--
		d.wake(l) // the next waiter may fit now that this one is gone
		d.forget(l, t)
		d.mu.Unlock()
	}
	return nil, ctx.Err()
}

// grant gives t a slot of l. d.mu must be held.
func (d *Dispatcher) grant(l *limiter, t *tenant) {
	d.grants++
	l.active++
	t.active++
	t.served = d.grants
	if t.index >= 0 {
		heap.Fix(&l.waiting, t.index)
	}
}

func (d *Dispatcher) give(l *limiter, t *tenant) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l.active--
	t.active--
	if t.index >= 0 {
		heap.Fix(&l.waiting, t.index)
	}
	d.wake(l)
	d.forget(l, t)
}

// wake grants slots of l to the fairest waiting namespace's oldest
// waiter, as long as that waiter fits.
func (d *Dispatcher) wake(l *limiter) {
	for l.waiting.Len() > 0 {
		t := l.waiting[0]
		e := t.waiters.Front()
		w := e.Value.(*waiter)
		if !fits(l.active, w.limit) {
			return
		}
		t.waiters.Remove(e)
		if t.waiters.Len() == 0 {
			heap.Remove(&l.waiting, t.index)
		}
		d.queued--
		d.grant(l, t)
		close(w.ready)
	}
}

// forget drops an idle tenant, and an idle group, so that neither
// accumulates as namespaces and plugins come and go.
func (d *Dispatcher) forget(l *limiter, t *tenant) {
	if t.active == 0 && t.waiters.Len() == 0 {
		delete(l.tenants, t.namespace)
	}
	if l != d.global && l.active == 0 && l.waiting.Len() == 0 {
		delete(d.groups, l.name)
	}
}

// Counts returns the invocations waiting for a slot and those holding a
// global slot.
func (d *Dispatcher) Counts() (queued, active int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queued, d.global.active
}

// tenantQueue orders the waiting tenants of a limiter: fewest slots held
// first, then served least recently. It implements heap.Interface.
type tenantQueue []*tenant

func (q tenantQueue) Len() int { return len(q) }

func (q tenantQueue) Less(i, j int) bool {
	if q[i].active != q[j].active {
		return q[i].active < q[j].active
	}
	return q[i].served < q[j].served
}

func (q tenantQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}

func (q *tenantQueue) Push(x any) {
	t := x.(*tenant)
	t.index = len(*q)
	*q = append(*q, t)
}

func (q *tenantQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*q = old[:len(old)-1]
	return t
}
