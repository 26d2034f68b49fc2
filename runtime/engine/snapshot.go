package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Instances from a snapshot.
//
// A reactor's _initialize does the same work in every instance: for a Go
// plugin, the Go runtime's start-up and the package initialization, about
// 5-10 ms of CPU. So the engine initializes a reactor once, in the first
// invocation without mounts, and saves what _initialize left: the linear
// memory (size and bytes, copied to the host's heap, never mapped into
// any guest) and the values of the mutable globals (which prepareModule
// exports for this). Every later instance without mounts is then created
// as before (a fresh instance, its own memory, start functions off) and,
// instead of running _initialize, gets the snapshot: its memory grown to
// the snapshot's size and overwritten with it, its globals set. Nothing
// of an instance goes back into the snapshot: an instance sees what
// _initialize computed, never what another call did.
//
// What every instance from one snapshot shares is what _initialize
// computed: for Go, the runtime's hash seeds and the state of math/rand
// (so map iteration orders and math/rand sequences repeat from call to
// call), the wall clock read during package initialization, and every
// package-level variable; the arguments and environment are the same for
// every call anyway. What each call reads fresh is everything it asks the
// host for: crypto/rand (WASI random_get), the wall and monotonic clocks,
// stdin, stdout and stderr.
//
// A module's instances are initialized for real, as without snapshots,
// when it exports no _initialize (a snapshot would only add a copy), or
// when a snapshot could not reproduce what _initialize did, or could
// reproduce something it should not:
//
//   - the module has a wasm start function (it runs at instantiation, on
//     memory the snapshot has not overwritten yet);
//   - it has a mutable global that is not a number (v128, a reference:
//     a reference belongs to the instance it was made in);
//   - its code has an instruction that changes tables or drops segments
//     (table.set, table.grow, table.fill, table.copy, table.init,
//     elem.drop, data.drop), which a snapshot of memory and globals does
//     not carry;
//   - its _initialize read stdin or wrote to stdout or stderr (each call
//     must see its own stdin and get its own log), or failed (a trap, an
//     exit, a limit).
//
// Invocations with mounts are always initialized for real: the mounts are
// part of what _initialize sees (Go's syscall package records the
// preopened directories in its initialization). The snapshot does not
// carry the WASI descriptor table either: an _initialize that closes or
// re-flags stdin, stdout or stderr (without mounts, the only descriptors
// there are) does so for the snapshot's instance only.

// snapshotter takes and keeps the snapshot of a compiled reactor.
type snapshotter struct {
	globals []string // the export names of the mutable globals

	mu      sync.Mutex
	taking  chan struct{} // while an invocation takes the snapshot; closed when it is done
	snap    *snapshot     // once taken
	refused string        // why instances cannot be made from a snapshot, once known
}

// snapshot is the state of a reactor's instance after _initialize.
type snapshot struct {
	memory  []byte   // the linear memory; nil without one
	globals []uint64 // the mutable globals, as snapshotter.globals
}

// newSnapshotter returns the snapshotter of a reactor, prepared as pm
// and compiled as m.
func newSnapshotter(pm *preparedModule, m wazero.CompiledModule) *snapshotter {
	refused := pm.noSnapshot
	if _, ok := m.ExportedFunctions()[initializeExport]; !ok {
		refused = "it exports no " + initializeExport + ": there is nothing to skip"
	}
	return &snapshotter{globals: pm.globals, refused: refused}
}

// get returns the snapshot, if it is taken. If it is not, take reports
// whether the caller is to take it: then it initializes its instance and
// calls taken, or abandon if it could not get that far. While another
// invocation takes it, get waits for that one to finish (a Go plugin's
// _initialize takes a few milliseconds), so that a burst of calls to a
// plugin just loaded does not initialize every instance for real; it
// returns ctx's error if ctx ends first.
func (s *snapshotter) get(ctx context.Context) (snap *snapshot, take bool, err error) {
	for {
		s.mu.Lock()
		switch {
		case s.snap != nil:
			s.mu.Unlock()
			return s.snap, false, nil
		case s.refused != "":
			s.mu.Unlock()
			return nil, false, nil
		case s.taking == nil:
			s.taking = make(chan struct{})
			s.mu.Unlock()
			return nil, true, nil
		}
		taking := s.taking
		s.mu.Unlock()
		select {
		case <-taking:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// abandon ends a taking that did not reach _initialize, or whose
// initialization ended with its invocation's context: the next
// invocation (or one waiting in get) takes the snapshot.
func (s *snapshotter) abandon() {
	s.end(nil, "")
}

// end ends a taking with its result; snap nil and refused "" leave the
// snapshot to be taken again.
func (s *snapshotter) end(snap *snapshot, refused string) {
	s.mu.Lock()
	close(s.taking)
	s.taking, s.snap, s.refused = nil, snap, refused
	s.mu.Unlock()
}

// taken ends a taking: inst has just run _initialize, which returned
// initErr, with stdinLen bytes of stdin unread before it. The snapshot is
// taken unless the initialization is one a snapshot must not reproduce;
// if it ended because ctx did (a deadline, a cancel; not a limit, which
// also cancels it), another invocation will try.
func (s *snapshotter) taken(ctx context.Context, inst *instance, stdinLen int, initErr error) {
	sb := inst.s
	var refused string
	switch {
	case sb.broken != "":
		refused = "its " + initializeExport + " broke an output limit"
	case initErr != nil && ctx.Err() != nil:
		s.abandon()
		return
	case initErr != nil:
		refused = "its " + initializeExport + " failed"
	case sb.stdin.Len() != stdinLen:
		refused = "its " + initializeExport + " read stdin"
	case sb.stdout.Len() > 0:
		refused = "its " + initializeExport + " wrote to stdout"
	case sb.log.total > 0:
		refused = "its " + initializeExport + " wrote to stderr"
	}
	var snap *snapshot
	if refused == "" {
		snap = takeSnapshot(inst.mod, s.globals)
	}
	s.end(snap, refused)
}

// state is the snapshot and why there is none, for tests.
func (s *snapshotter) state() (*snapshot, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, s.refused
}

// takeSnapshot copies mod's memory and the values of its globals.
func takeSnapshot(mod api.Module, globals []string) *snapshot {
	snap := &snapshot{globals: make([]uint64, len(globals))}
	if mem := mod.Memory(); mem != nil {
		b, _ := mem.Read(0, mem.Size())
		snap.memory = append([]byte(nil), b...)
	}
	for i, name := range globals {
		snap.globals[i] = mod.ExportedGlobal(name).Get()
	}
	return snap
}

// restoreSlot waits until fewer than GOMAXPROCS instances are being made
// from a snapshot (instantiated and restored: compiled.create), and
// returns the function that ends this one's turn; ctx's error if ctx ends
// first.
//
// Making an instance from a snapshot runs no guest code (a module with a
// start function gets no snapshot): it is a bounded amount of CPU work,
// so running more of them at once than there are CPUs finishes none
// sooner. It would cost memory, though: each instance holds its linear
// memory from its creation until its call ends, and a burst that starts
// dozens of calls at once (a controller's concurrency limit is sized for
// calls that wait, not for CPU) would have that many memories mapped
// together. The pool cannot recycle them (memory.go), so each one's pages
// are touched for the first time, and on the virtual machines this was
// measured on a first touch of memory costs more than anything else an
// invocation does (docs/performance.md, section 11). In turn,
// calls that start together finish one after another and hand their
// memories on.
func (e *Engine) restoreSlot(ctx context.Context) (release func(), err error) {
	select {
	case e.restoring <- struct{}{}:
		return func() { <-e.restoring }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// restoreError is a snapshot that does not fit an instance.
type restoreError struct{ msg string }

func (e *restoreError) Error() string { return e.msg }

// restore gives mod, just instantiated, the state of the snapshot: its
// memory grown to the snapshot's size and overwritten with it, its
// globals set.
func (snap *snapshot) restore(mod api.Module, globals []string) error {
	if mem := mod.Memory(); mem != nil {
		size := uint64(len(snap.memory))
		if have := uint64(mem.Size()); size > have {
			if _, ok := mem.Grow(uint32((size - have) / pageSize)); !ok {
				return &restoreError{fmt.Sprintf("the plugin's memory after %s (%s) does not fit its memory limit (%s); raise the limit (limits.memory in its manifest)",
					initializeExport, formatBytes(size), memoryLimit(mod))}
			}
		}
		mem.Write(0, snap.memory)
	}
	for i, name := range globals {
		mod.ExportedGlobal(name).(api.MutableGlobal).Set(snap.globals[i])
	}
	return nil
}
