//go:build !(linux || darwin || freebsd)

package engine

import "errors"

// mmap is not implemented here: linear memory lives in the Go heap.
func mmap(uint64, bool) ([]byte, error) { return nil, errors.ErrUnsupported }

func munmap([]byte) {}
