package engine

import (
	"bytes"
	"testing"
	"time"
)

func TestLinearMemoryGrowsInPlace(t *testing.T) {
	pool := newMemoryPool()
	defer pool.close()
	m := newLinearMemory(pool, pageSize, 4*pageSize, 0)
	if m.mapped == nil {
		t.Skip("no mmap here: linear memory lives in the Go heap")
	}
	b := m.Reallocate(pageSize)
	copy(b, "hello")
	grown := m.Reallocate(3 * pageSize)
	if len(grown) != 3*pageSize || &grown[0] != &b[0] || string(grown[:5]) != "hello" {
		t.Fatalf("growing moved or lost the memory")
	}
	if m.Reallocate(5*pageSize) != nil {
		t.Error("the memory grew beyond its reservation")
	}
	m.release()
	if reused := newLinearMemory(pool, pageSize, 4*pageSize, 0); &reused.mapped[0] != &b[0] {
		t.Error("a released memory was not reused")
	} else if !bytes.Equal(reused.Reallocate(4*pageSize), make([]byte, 4*pageSize)) {
		t.Error("a reused memory is not zeroed")
	}
}

// A memory that a snapshot overwrites is cleared only beyond it, and
// counts the bytes left for the snapshot as used, so that they are
// cleared before the next reuse if the snapshot never came.
func TestLinearMemorySkipsWhatASnapshotOverwrites(t *testing.T) {
	pool := newMemoryPool()
	defer pool.close()
	m := newLinearMemory(pool, pageSize, 4*pageSize, 0)
	if m.mapped == nil {
		t.Skip("no mmap here: linear memory lives in the Go heap")
	}
	b := m.Reallocate(3 * pageSize)
	for i := range b {
		b[i] = 1
	}
	m.release()
	restored := newLinearMemory(pool, pageSize, 4*pageSize, pageSize)
	got := restored.Reallocate(3 * pageSize)
	if got[0] != 1 || got[pageSize-1] != 1 || !bytes.Equal(got[pageSize:], make([]byte, 2*pageSize)) {
		t.Error("want the first page left for the snapshot and the rest cleared")
	}
	restored.release()
	newLinearMemory(pool, pageSize, 4*pageSize, 4*pageSize).release() // the snapshot never came
	if again := newLinearMemory(pool, pageSize, 4*pageSize, 0); !bytes.Equal(again.Reallocate(4*pageSize), make([]byte, 4*pageSize)) {
		t.Error("the bytes left for a snapshot were not cleared for the next instance")
	}
}

// Without a mapping, memory lives in the Go heap and keeps its contents
// as it grows.
func TestLinearMemoryHeapFallback(t *testing.T) {
	m := &linearMemory{}
	copy(m.Reallocate(pageSize), "hello")
	if b := m.Reallocate(2 * pageSize); len(b) != 2*pageSize || string(b[:5]) != "hello" {
		t.Fatal("growing lost the memory")
	}
	m.release()
}

func TestMemoryPoolBounds(t *testing.T) {
	pool := newMemoryPool()
	const size = 1 << 20
	kind := mappingKind{size: size}
	var kept [][]byte
	for range maxFreeMemory/size + 2 {
		b, _ := pool.get(kind, 0)
		kept = append(kept, b)
	}
	for _, b := range kept {
		pool.put(b, kind, size)
	}
	if pool.resident != maxFreeMemory || len(pool.free[kind]) != maxFreeMemory/size {
		t.Errorf("the pool keeps %d mappings, %d bytes used; want %d bytes at most", len(pool.free[kind]), pool.resident, maxFreeMemory)
	}
	pool.close()
	if pool.free != nil || pool.resident != 0 {
		t.Error("close kept mappings")
	}
	b := newLinearMemory(pool, size, size, 0)
	b.Reallocate(size)
	b.release() // unmapped, not kept: the pool is closed
	if pool.free != nil {
		t.Error("a closed pool kept a mapping")
	}
}

// A memory that starts at 2 MiB or more is mapped with huge pages, and
// counted in whole huge pages while it waits for reuse.
func TestHugeLinearMemory(t *testing.T) {
	pool := newMemoryPool()
	defer pool.close()
	small := newLinearMemory(pool, pageSize, 64<<20, 0)
	large := newLinearMemory(pool, 3<<20, 64<<20, 0)
	if small.kind.huge || !large.kind.huge {
		t.Fatalf("huge: %v for 64 KiB, %v for 3 MiB; want false, true", small.kind.huge, large.kind.huge)
	}
	large.Reallocate(3 << 20)
	large.release()
	if pool.resident != 4<<20 {
		t.Errorf("resident = %d after releasing 3 MiB of huge pages, want 4 MiB", pool.resident)
	}
	small.release()
}

// The free mappings are unmapped once none has been taken for the idle
// period, and kept while instances keep taking them.
func TestMemoryPoolReleasesWhenIdle(t *testing.T) {
	pool := newMemoryPool()
	defer pool.close()
	pool.idle = 200 * time.Millisecond
	kind := mappingKind{size: 1 << 20}
	put := func() {
		b, _ := pool.get(kind, 0)
		pool.put(b, kind, 1<<20)
	}
	free := func() int {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return len(pool.free[kind])
	}
	put()
	for range 5 { // busy for longer than the idle period
		time.Sleep(pool.idle / 2)
		put()
		if free() != 1 {
			t.Fatal("the pool released its mapping while instances were taking it")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for free() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the pool kept its mapping 10 s after the last instance took one")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pool.resident != 0 {
		t.Errorf("resident = %d after releasing everything", pool.resident)
	}
	put() // usable again, and released again
	for free() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the pool kept its mapping after a second idle period")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
