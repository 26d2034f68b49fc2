package engine

import "syscall"

// mmap reserves size bytes of zeroed, private memory. The kernel backs a
// page on its first touch, so only what is used becomes resident. With
// huge, the kernel is asked to back the mapping with 2 MiB pages: each
// first touch then costs one fault per 2 MiB instead of per 4 KiB, which
// matters where faults are expensive (on this project's virtual machines
// a 4 KiB fault costs 15 µs idle and up to 60 µs under load; see
// docs/performance.md), at the price of rounding what is resident up to
// 2 MiB.
func mmap(size uint64, huge bool) ([]byte, error) {
	b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err == nil && huge {
		_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) // advice: without transparent huge pages, 4 KiB pages
	}
	return b, err
}

func munmap(b []byte) { _ = syscall.Munmap(b) }
