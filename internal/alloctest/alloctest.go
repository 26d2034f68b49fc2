// Package alloctest measures what code allocates, for tests that hold a
// hostile input's cost to a bound.
package alloctest

import "runtime"

// Bytes returns the bytes the Go heap allocated while f ran (all
// goroutines: run it where nothing else allocates much).
func Bytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
