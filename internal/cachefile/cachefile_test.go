package cachefile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
)

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub") // created by Write
	data := bytes.Repeat([]byte("module "), 1000)
	if err := Write(dir, "a", data); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir, "a", int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read = %d bytes, %v; want the %d bytes written", len(got), err, len(data))
	}
	// Replacing an entry.
	if err := Write(dir, "a", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(dir, "a", 10); err != nil || string(got) != "new" {
		t.Fatalf("Read after replacing = %q, %v", got, err)
	}
	// No temporary file is left behind.
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files, want 1", len(entries))
	}
	if _, err := Read(dir, "missing", 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(missing) = %v; want fs.ErrNotExist", err)
	}
	if _, err := Read(dir, "a", 2); !errors.As(err, new(*boundedread.TooLargeError)) {
		t.Errorf("Read over the limit = %v; want a TooLargeError", err)
	}
	if err := Write(dir, "../b", data); err == nil {
		t.Error("Write accepted a name with a path")
	}
}

// TestDamagedEntries checks that every truncation and every flipped bit of
// an entry, and an entry under another name, read as ErrDamaged.
func TestDamagedEntries(t *testing.T) {
	dir := t.TempDir()
	data := []byte("a short module")
	if err := Write(dir, "a", data); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "a"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := Read(dir, "a", 100); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: Read = %q, %v; want ErrDamaged", what, got, err)
		}
	}
	for n := range len(whole) {
		check("truncated", whole[:n])
	}
	check("extended", append(bytes.Clone(whole), 0))
	for i := range len(whole) * 8 {
		b := bytes.Clone(whole)
		b[i/8] ^= 1 << (i % 8)
		check("a flipped bit", b)
	}
	// The entry of "a" renamed to "b".
	if err := os.WriteFile(filepath.Join(dir, "b"), whole, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir, "b", 100); !errors.Is(err, ErrDamaged) {
		t.Errorf("Read of a renamed entry = %v; want ErrDamaged", err)
	}
}
