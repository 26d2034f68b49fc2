package engine

import (
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// instance is one instance of a plugin with its sandbox. It serves one
// invocation and is then closed; mod is nil until it is created.
type instance struct {
	mod api.Module
	s   *sandbox

	memory *memoryPool   // where its linear memory comes from
	mem    *linearMemory // its linear memory, once allocated
	// restoring is the size of the snapshot the instance gets once it is
	// created (snapshot.go), which overwrites the first restoring bytes of
	// its memory; 0 if none.
	restoring uint64
}

// Allocate implements experimental.MemoryAllocator: wazero calls it to
// create the instance's linear memory, with its initial size (as capacity)
// and its maximum.
func (i *instance) Allocate(initial, max uint64) experimental.LinearMemory {
	i.mem = newLinearMemory(i.memory, initial, max, i.restoring)
	return i.mem
}

// close closes the module, returns its memory to the pool and recycles
// the sandbox.
func (i *instance) close() {
	if i.mod != nil {
		_ = i.mod.Close(context.Background())
	}
	if i.mem != nil {
		i.mem.release()
	}
	putSandbox(i.s)
}

// prepareTimeout bounds the initialization of an instance prepared in the
// background, where no invocation's deadline applies. A Go plugin
// initializes in a few milliseconds; a reactor that takes longer than
// this is not prepared ahead of demand any more.
const prepareTimeout = 30 * time.Second

// warmPool keeps up to cap(ready) instances of a reactor created and
// readied (from the snapshot, or by _initialize: compiled.create) ahead
// of demand. Each is handed to exactly one invocation
// (take), which closes it: the pool never takes an instance back. The
// pool is filled in the background, one instance at a time, when an
// invocation ends (refill), starting with the first. If preparing an
// instance fails (a trap or exit in _initialize, a timeout), the pool
// stops for good: invocations then create their instances themselves and
// report the failure.
type warmPool struct {
	c     *compiled
	ready chan *instance

	ctx    context.Context // ends preparation; cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the filling goroutine

	mu      sync.Mutex
	filling bool // a goroutine is filling the pool
	stopped bool // closed, or preparation failed
}

func newWarmPool(c *compiled, size int) *warmPool {
	ctx, cancel := context.WithCancel(context.Background())
	return &warmPool{c: c, ready: make(chan *instance, size), ctx: ctx, cancel: cancel}
}

// take returns a prepared instance, or nil if none is ready (or w is
// nil).
func (w *warmPool) take() *instance {
	if w == nil {
		return nil
	}
	select {
	case inst := <-w.ready:
		return inst
	default:
		return nil
	}
}

// refill has the pool filled in the background, unless it is full,
// closed, stopped or already filling (or w is nil).
func (w *warmPool) refill() {
	if w == nil {
		return
	}
	w.mu.Lock()
	if !w.filling && !w.stopped && len(w.ready) < cap(w.ready) {
		w.filling = true
		w.wg.Add(1)
		go w.fill()
	}
	w.mu.Unlock()
}

// fill prepares instances until the pool is full, closed or failing.
func (w *warmPool) fill() {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		if w.stopped || len(w.ready) == cap(w.ready) {
			w.filling = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()

		inst, ok := w.prepare()
		w.mu.Lock()
		if !ok || w.stopped {
			w.stopped, w.filling = true, false
			w.mu.Unlock()
			if inst != nil {
				inst.close()
			}
			return
		}
		w.ready <- inst // never blocks: only fill adds, and it checked for room
		w.mu.Unlock()
	}
}

// prepare creates and readies an instance (compiled.create), holding a slot of
// Config.PrepareSlot while it does. It reports false if that failed; the
// instance, if any, must then be closed.
func (w *warmPool) prepare() (*instance, bool) {
	if slot := w.c.engine.prepareSlot; slot != nil {
		release, err := slot(w.ctx)
		if err != nil {
			return nil, false
		}
		defer release()
	}
	ctx, cancel := context.WithTimeout(w.ctx, prepareTimeout)
	defer cancel()
	inst := w.c.newInstance()
	inst.s.ctx, inst.s.stop = ctx, cancel
	_, err := w.c.create(ctx, inst, nil)
	// The preparation's context ends here; the call that takes the
	// instance binds its own (sandbox.bind).
	inst.s.ctx, inst.s.stop = nil, nil
	return inst, err == nil && inst.s.broken == ""
}

// close stops filling, waits for an instance being prepared, and closes
// the prepared ones. It is safe to call more than once, and on nil.
func (w *warmPool) close() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
	for {
		select {
		case inst := <-w.ready:
			inst.close()
		default:
			return
		}
	}
}
