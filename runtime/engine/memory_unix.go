//go:build linux || darwin || freebsd

package engine

import "syscall"

// mmap reserves size bytes of zeroed, private memory. The kernel backs a
// page on its first touch, so only what is used becomes resident.
func mmap(size uint64) ([]byte, error) {
	return syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
}

func munmap(b []byte) { _ = syscall.Munmap(b) }
