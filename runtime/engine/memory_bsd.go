//go:build darwin || freebsd

package engine

import "syscall"

// mmap reserves size bytes of zeroed, private memory, backed by the
// kernel on first touch; huge is a Linux-only advice (memory_linux.go).
func mmap(size uint64, _ bool) ([]byte, error) {
	return syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
}

func munmap(b []byte) { _ = syscall.Munmap(b) }
