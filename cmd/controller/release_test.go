package main

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// sink keeps the test's garbage from being optimised away.
var sink [][]byte

// Once the plugins are loaded, the garbage their loading left is collected
// and the free heap returned to the OS; before, nothing is done.
func TestReleaseLoadGarbage(t *testing.T) {
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil // 64 MiB of garbage, as loading plugins leaves
	var loaded atomic.Bool
	done := make(chan struct{})
	go func() {
		releaseLoadGarbage(context.Background(), loaded.Load)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("returned before the plugins were loaded")
	case <-time.After(300 * time.Millisecond):
	}
	loaded.Store(true)
	<-done
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	// What of the heap stays resident: in use, or free and not returned.
	if resident := m.HeapInuse + m.HeapIdle - m.HeapReleased; resident > 32<<20 {
		t.Errorf("%d MiB of heap resident after the release of 64 MiB of garbage", resident>>20)
	}

	// A controller stopping before its plugins are loaded just returns.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	releaseLoadGarbage(ctx, func() bool { return false })
}
