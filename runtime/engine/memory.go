package engine

import (
	"sync"
	"time"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memory.
//
// By default wazero keeps an instance's linear memory in the Go heap and
// copies it whole on every memory.grow. For a Go plugin that is about
// 7 MB of garbage per invocation, which makes the host's garbage
// collector run every few invocations, and fresh heap memory costs page
// faults, which on this project's virtual machines cost more than the
// copying. The engine instead gives every instance a mapping of its own,
// reserved at the memory's maximum size so that it grows in place, and
// recycles the mappings: a released one is cleared (only the part the
// instance used) when it is handed to the next instance, so its pages
// stay resident and fault only once. Measured on a Go command plugin (docs/performance.md):
// host CPU per invocation down by a third, p99 latency by half or more,
// host heap allocation per invocation from 7 MB to 0.3 MB.
//
// The free mappings are bounded (maxFreeMemory) and unmapped once no
// instance has taken one for idleRelease, so that an idle process does not
// keep the memory of its last burst.
//
// Isolation does not depend on the garbage collector: every byte an
// instance could have written (below the largest size its memory had) is
// zeroed or, for an instance made from a snapshot (snapshot.go),
// overwritten by the snapshot before the mapping's next instance runs any
// code; no guest can reach a mapping while it waits in the pool.

// maxFreeMemory bounds the resident memory of the mappings kept for
// reuse, so that a burst of invocations does not pin its peak.
const maxFreeMemory = 64 << 20

// idleRelease is how long the pool keeps its free mappings while no
// instance takes one: after a burst, the process gives their memory back
// instead of holding up to maxFreeMemory until the next burst.
const idleRelease = 10 * time.Second

// hugePageSize is the size of a transparent huge page on amd64 and arm64
// (with 4 KiB base pages). A memory that starts at least this large (a Go
// plugin's starts at about 3 MiB) is mapped with huge pages; a smaller one
// (C, Rust, WAT: usually a few pages) is not, since each huge page it
// touched would be resident in full.
const hugePageSize = 2 << 20

// memoryPool recycles linear memories. It is safe for concurrent use.
type memoryPool struct {
	mu       sync.Mutex
	closed   bool
	free     map[mappingKind][]freeMapping
	resident uint64 // the bytes of the free mappings that may be resident

	idle    time.Duration // idleRelease; tests shorten it
	lastGet time.Time     // when an instance last took a mapping
	trimmer *time.Timer   // set while there are free mappings to release
}

// mappingKind is what a mapping can be reused for.
type mappingKind struct {
	size uint64 // reserved bytes
	huge bool   // advised to use huge pages
}

// freeMapping is a released mapping whose first used bytes the last
// instance may have written.
type freeMapping struct {
	b    []byte
	used uint64
}

// resident is how much of a mapping of the kind may be resident after
// used bytes were touched.
func (k mappingKind) resident(used uint64) uint64 {
	if k.huge {
		return (used + hugePageSize - 1) &^ (hugePageSize - 1)
	}
	return used
}

func newMemoryPool() *memoryPool {
	return &memoryPool{free: map[mappingKind][]freeMapping{}, idle: idleRelease}
}

// get returns a mapping of the kind, zeroed from byte overwritten on: a
// released one, cleared, or a new one; nil if there is none and mmap
// fails. stale is how many of the first overwritten bytes still hold what
// the last instance wrote: the caller must overwrite them before any guest
// code runs. Clearing here rather than in put keeps it off the path of
// the call that released the mapping, and for a prepared instance off the
// path of any call.
func (p *memoryPool) get(kind mappingKind, overwritten uint64) (b []byte, stale uint64) {
	p.mu.Lock()
	p.lastGet = time.Now()
	if l := p.free[kind]; len(l) > 0 {
		f := l[len(l)-1]
		p.free[kind] = l[:len(l)-1]
		p.resident -= kind.resident(f.used)
		p.mu.Unlock()
		stale = min(f.used, overwritten)
		clear(f.b[stale:f.used])
		return f.b, stale
	}
	p.mu.Unlock()
	b, err := mmap(kind.size, kind.huge)
	if err != nil {
		return nil, 0
	}
	return b, 0
}

// put keeps b, a mapping of the kind whose first used bytes may have been
// written, for reuse, or unmaps it if the pool is full or closed. b must
// not be used any more.
func (p *memoryPool) put(b []byte, kind mappingKind, used uint64) {
	resident := kind.resident(used)
	p.mu.Lock()
	if p.closed || p.resident+resident > maxFreeMemory {
		p.mu.Unlock()
		munmap(b)
		return
	}
	p.free[kind] = append(p.free[kind], freeMapping{b: b, used: used})
	p.resident += resident
	if p.trimmer == nil {
		p.trimmer = time.AfterFunc(p.idle, p.trim)
	}
	p.mu.Unlock()
}

// trim unmaps the free mappings if no instance has taken one for p.idle,
// or checks again when that will be so.
func (p *memoryPool) trim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if wait := p.idle - time.Since(p.lastGet); wait > 0 {
		p.trimmer.Reset(wait)
		return
	}
	p.unmapFree()
	p.trimmer = nil
}

// unmapFree unmaps the free mappings. p.mu must be held.
func (p *memoryPool) unmapFree() {
	for _, l := range p.free {
		for _, f := range l {
			munmap(f.b)
		}
	}
	clear(p.free)
	p.resident = 0
}

// close unmaps the free mappings; mappings put later are unmapped.
func (p *memoryPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.trimmer != nil {
		p.trimmer.Stop()
	}
	p.unmapFree()
	p.free = nil
}

// linearMemory is an instance's linear memory (experimental.LinearMemory):
// a mapping from the pool, or, if none could be made, a Go slice grown
// like wazero's own.
type linearMemory struct {
	pool   *memoryPool
	kind   mappingKind
	mapped []byte // the reservation
	used   uint64 // the largest size handed out
	heap   []byte // the fallback
}

// newLinearMemory reserves max bytes from pool for a memory that starts
// at initial bytes, and whose first overwritten bytes are overwritten
// before the guest runs (by a snapshot): they need not be cleared. If they
// are not overwritten after all, the memory still counts them as used, so
// that the next instance to get its mapping has them cleared.
func newLinearMemory(pool *memoryPool, initial, max, overwritten uint64) *linearMemory {
	kind := mappingKind{size: max, huge: initial >= hugePageSize}
	mapped, stale := pool.get(kind, overwritten)
	return &linearMemory{pool: pool, kind: kind, mapped: mapped, used: stale}
}

// Reallocate implements experimental.LinearMemory: it returns the memory
// at size bytes, or nil beyond the reservation.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if m.mapped != nil {
		if size > uint64(len(m.mapped)) {
			return nil
		}
		m.used = max(m.used, size)
		return m.mapped[:size]
	}
	if size > uint64(len(m.heap)) {
		m.heap = append(m.heap, make([]byte, size-uint64(len(m.heap)))...)
	}
	return m.heap
}

// Free implements experimental.LinearMemory, and does nothing: wazero
// frees a memory when its module is closed, which Engine.Close may do
// while the guest still runs on another goroutine, and recycling the
// mapping then would hand it to another instance under the guest's feet.
// The engine calls release instead, once the instance cannot run.
func (m *linearMemory) Free() {}

// release returns the memory to its pool. The instance must not run any
// more.
func (m *linearMemory) release() {
	if m.mapped != nil {
		m.pool.put(m.mapped, m.kind, m.used)
	}
	m.mapped, m.heap = nil, nil
}

var _ experimental.LinearMemory = (*linearMemory)(nil)
