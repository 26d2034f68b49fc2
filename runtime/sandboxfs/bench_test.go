package sandboxfs

import (
	"os"
	"path/filepath"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// BenchmarkWrite measures one 4 KiB write appended to a file through the
// FS (with its budget accounting) and straight to an os.File.
func BenchmarkWrite(b *testing.B) {
	buf := make([]byte, 4<<10)
	b.Run("sandboxfs", func(b *testing.B) {
		d, err := Open(b.TempDir(), false, NewBudget(0, 1<<62))
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		f, e := d.OpenFile("f", experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o644)
		if e != 0 {
			b.Fatal(e)
		}
		defer f.Close()
		for b.Loop() {
			if _, e := f.Write(buf); e != 0 {
				b.Fatal(e)
			}
		}
	})
	b.Run("os", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "f"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		for b.Loop() {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOpenClose measures opening and closing a file two directories
// deep through the FS (os.Root resolves each component) and with
// os.OpenFile.
func BenchmarkOpenClose(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "b", "f"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("sandboxfs", func(b *testing.B) {
		d, err := Open(dir, true, NewBudget(0, 0))
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		for b.Loop() {
			f, e := d.OpenFile("a/b/f", experimentalsys.O_RDONLY, 0)
			if e != 0 {
				b.Fatal(e)
			}
			f.Close()
		}
	})
	b.Run("os", func(b *testing.B) {
		for b.Loop() {
			f, err := os.Open(filepath.Join(dir, "a", "b", "f"))
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
}
