package engine

import (
	"bytes"
	"testing"
)

func TestLinearMemoryGrowsInPlace(t *testing.T) {
	pool := newMemoryPool()
	defer pool.close()
	m := newLinearMemory(pool, pageSize, 4*pageSize)
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
	if reused := newLinearMemory(pool, pageSize, 4*pageSize); &reused.mapped[0] != &b[0] {
		t.Error("a released memory was not reused")
	} else if !bytes.Equal(reused.Reallocate(4*pageSize), make([]byte, 4*pageSize)) {
		t.Error("a reused memory is not zeroed")
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
		kept = append(kept, pool.get(kind))
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
	b := newLinearMemory(pool, size, size)
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
	small := newLinearMemory(pool, pageSize, 64<<20)
	large := newLinearMemory(pool, 3<<20, 64<<20)
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
