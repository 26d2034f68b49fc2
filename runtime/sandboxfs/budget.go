package sandboxfs

import "sync"

// DefaultMaxOpenFiles is how many files and directories one invocation may
// hold open at once across all its mounts, when NewBudget is given 0. It is
// well above what a plugin walking a directory tree or copying between
// workspaces needs, and bounds the host descriptors one invocation can
// take: each open file of the guest is one descriptor of the host process.
const DefaultMaxOpenFiles = 128

// DefaultMaxWriteBytes is how many bytes one invocation may add to its
// writable mounts, when NewBudget is given 0: 8 MiB. A controller's
// workspaces live on one memory-backed volume shared by every run (sized
// in config/500-controller.yaml for 8 concurrent invocations, each with
// this plus its prepared configMap and secret files), so this is host
// memory one invocation can take from the others.
const DefaultMaxWriteBytes = 8 << 20

// EntryBytes is what creating a file or a directory costs in the write
// budget: a file system spends an inode and a directory entry on it even
// when it is empty, so that creating millions of empty files is bounded
// like writing their bytes.
const EntryBytes = 4 << 10

// Budget is what one invocation may spend across all its mounts: open
// descriptors and bytes added to writable mounts. It is safe for
// concurrent use.
//
// Bytes are counted as the guest grows files, not as it writes them:
// writing past the end of a file (holes included), truncating it longer and
// creating a file or directory (EntryBytes) cost; overwriting bytes a file
// already has does not. Shrinking, truncating or removing files gives
// nothing back, so the budget bounds what the invocation can add whatever
// it deletes in between.
type Budget struct {
	mu                sync.Mutex
	open, maxOpen     int
	written, maxWrite int64
	openRefused, full bool
}

// NewBudget returns the budget of one invocation: at most maxOpenFiles open
// at once (0 means DefaultMaxOpenFiles) and maxWriteBytes added to writable
// mounts (0 means DefaultMaxWriteBytes).
func NewBudget(maxOpenFiles int, maxWriteBytes int64) *Budget {
	if maxOpenFiles <= 0 {
		maxOpenFiles = DefaultMaxOpenFiles
	}
	if maxWriteBytes <= 0 {
		maxWriteBytes = DefaultMaxWriteBytes
	}
	return &Budget{maxOpen: maxOpenFiles, maxWrite: maxWriteBytes}
}

// Refused reports whether the guest was refused a descriptor (openFiles)
// or bytes (write) because this budget was spent.
func (b *Budget) Refused() (openFiles, write bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.openRefused, b.full
}

// MaxOpenFiles is how many files the guest may hold open at once.
func (b *Budget) MaxOpenFiles() int { return b.maxOpen }

// MaxWriteBytes is how many bytes the guest may add to writable mounts.
func (b *Budget) MaxWriteBytes() int64 { return b.maxWrite }

// acquire takes one descriptor, or reports that all are taken.
func (b *Budget) acquire() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open >= b.maxOpen {
		b.openRefused = true
		return false
	}
	b.open++
	return true
}

// release gives back a descriptor taken by acquire.
func (b *Budget) release() {
	b.mu.Lock()
	b.open--
	b.mu.Unlock()
}

// grow takes up to want bytes and returns how many it granted; when it
// grants fewer, the budget is spent.
func (b *Budget) grow(want int64) int64 {
	if want <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	granted := min(want, b.maxWrite-b.written)
	if granted < want {
		b.full = true
	}
	b.written += granted
	return granted
}

// refund gives back bytes granted by grow and not used.
func (b *Budget) refund(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.written -= n
	b.mu.Unlock()
}
