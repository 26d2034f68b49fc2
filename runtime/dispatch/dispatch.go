// Package dispatch bounds how many plugin invocations run at once: one
// global limit for the controller and, within it, a limit per group (one
// group per plugin). Waiters are served first come, first served within a
// group, and a waiter gives up when its context ends, so a queued
// invocation never outlives its run's deadline or cancellation.
//
// A slot is taken in the group first and globally second: an invocation
// whose plugin is at its own limit waits without holding a global slot
// that another plugin could use.
package dispatch

import (
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
}

// New returns a Dispatcher allowing at most global invocations at once
// (0: no global limit).
func New(global int) *Dispatcher {
	return &Dispatcher{global: &limiter{limit: global}, groups: map[string]*limiter{}}
}

// limiter counts the slots of one group (or the global slots). Its fields
// are guarded by Dispatcher.mu.
type limiter struct {
	name    string
	limit   int // global only; groups take the limit of each waiter
	active  int
	waiters list.List // of *waiter, oldest first
}

type waiter struct {
	limit int
	ready chan struct{} // closed when the slot is granted
}

func fits(active, limit int) bool { return limit <= 0 || active < limit }

// Acquire waits until group has fewer than limit invocations running
// (limit <= 0: no group limit) and a global slot is free, then takes both
// and returns the function that gives them back, which must be called
// exactly once. A limit applies to the caller that passes it, so a plugin
// whose limit changes takes the new limit for new invocations at once.
// Acquire returns ctx.Err() if ctx ends first, holding nothing.
func (d *Dispatcher) Acquire(ctx context.Context, group string, limit int) (release func(), err error) {
	d.mu.Lock()
	g := d.groups[group]
	if g == nil {
		g = &limiter{name: group}
		d.groups[group] = g
	}
	if err := d.take(ctx, g, limit); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if err := d.take(ctx, d.global, d.global.limit); err != nil {
		d.give(g)
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			d.give(d.global)
			d.give(g)
		})
	}, nil
}

// take takes a slot of l. It is called with d.mu held and returns with
// d.mu released.
func (d *Dispatcher) take(ctx context.Context, l *limiter, limit int) error {
	if l.waiters.Len() == 0 && fits(l.active, limit) {
		l.active++
		d.mu.Unlock()
		return nil
	}
	w := &waiter{limit: limit, ready: make(chan struct{})}
	e := l.waiters.PushBack(w)
	d.queued++
	d.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	d.mu.Lock()
	select {
	case <-w.ready:
		// Granted while ctx ended: hand the slot on.
		d.mu.Unlock()
		d.give(l)
	default:
		l.waiters.Remove(e)
		d.queued--
		d.wake(l) // the next waiter may fit now that this one is gone
		d.forget(l)
		d.mu.Unlock()
	}
	return ctx.Err()
}

func (d *Dispatcher) give(l *limiter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l.active--
	d.wake(l)
	d.forget(l)
}

// wake grants slots to the waiters at the head of l that fit.
func (d *Dispatcher) wake(l *limiter) {
	for e := l.waiters.Front(); e != nil; e = l.waiters.Front() {
		w := e.Value.(*waiter)
		if !fits(l.active, w.limit) {
			return
		}
		l.waiters.Remove(e)
		d.queued--
		l.active++
		close(w.ready)
	}
}

// forget drops an idle group so that groups of removed plugins do not
// accumulate.
func (d *Dispatcher) forget(l *limiter) {
	if l != d.global && l.active == 0 && l.waiters.Len() == 0 {
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
