package sandboxfs

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

const (
	rdonly = experimentalsys.O_RDONLY
	rdwr   = experimentalsys.O_RDWR
	create = experimentalsys.O_RDWR | experimentalsys.O_CREAT
)

// mount returns an FS of a fresh directory holding the file "f" ("data"),
// the directory "d", and links out of it: "abs" to a directory outside,
// "rel" to a file outside, "up" to "..".
func mount(t *testing.T, readOnly bool, budget *Budget) (*FS, string, string) {
	t.Helper()
	dir, outside := t.TempDir(), t.TempDir()
	write(t, filepath.Join(dir, "f"), "data")
	write(t, filepath.Join(outside, "secret"), "secret")
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(dir, filepath.Join(outside, "secret"))
	for name, target := range map[string]string{"abs": outside, "rel": rel, "up": ".."} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if budget == nil {
		budget = NewBudget(0, 0)
	}
	d, err := Open(dir, readOnly, budget)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir, outside
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantErrno(t *testing.T, what string, got, want experimentalsys.Errno) {
	t.Helper()
	if got != want {
		t.Errorf("%s: errno %v, want %v", what, got, want)
	}
}

func open(t *testing.T, d *FS, path string, flag experimentalsys.Oflag) experimentalsys.File {
	t.Helper()
	f, e := d.OpenFile(path, flag, 0o644)
	if e != 0 {
		t.Fatalf("OpenFile(%q): %v", path, e)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestNothingResolvesOutside(t *testing.T) {
	d, _, outside := mount(t, false, nil)
	for _, path := range []string{"..", "../x", "d/../../x", "abs/secret", "rel", "up/x", "up", "/etc/hostname"} {
		if f, e := d.OpenFile(path, rdonly, 0); e == 0 {
			f.Close()
			t.Errorf("OpenFile(%q) opened a file outside the mount", path)
		}
		if _, e := d.Stat(path); e == 0 {
			t.Errorf("Stat(%q) reached outside the mount", path)
		}
		if e := d.Utimens(path, 0, 0); e == 0 {
			t.Errorf("Utimens(%q) reached outside the mount", path)
		}
	}
	for _, path := range []string{"../x", "abs/new", "up/new"} {
		if f, e := d.OpenFile(path, create, 0o644); e == 0 {
			f.Close()
			t.Errorf("OpenFile(%q, O_CREAT) created a file outside the mount", path)
		}
		wantErrno(t, "Mkdir "+path, d.Mkdir(path, 0o755), experimentalsys.EPERM)
	}
	wantErrno(t, "Rename out", d.Rename("f", "up/stolen"), experimentalsys.EPERM)
	wantErrno(t, "Unlink out", d.Unlink("abs/secret"), experimentalsys.EPERM)
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("outside holds %d entries, want only its secret", len(entries))
	}
	// The links themselves can be seen and read, not followed.
	if st, e := d.Lstat("abs"); e != 0 || st.Mode&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(abs) = %v, %v; want the link", st.Mode, e)
	}
	if target, e := d.Readlink("abs"); e != 0 || target != outside {
		t.Errorf("Readlink(abs) = %q, %v", target, e)
	}
}

func TestLinksAreRefused(t *testing.T) {
	d, dir, _ := mount(t, false, nil)
	wantErrno(t, "Symlink", d.Symlink("..", "new"), experimentalsys.EPERM)
	wantErrno(t, "Symlink inside", d.Symlink("f", "new"), experimentalsys.EPERM)
	wantErrno(t, "Link", d.Link("f", "new"), experimentalsys.EPERM)
	wantErrno(t, "Link out", d.Link("../x", "new"), experimentalsys.EPERM)
	if _, err := os.Lstat(filepath.Join(dir, "new")); err == nil {
		t.Error("a link was created")
	}
}

func TestLinksInsideAreFollowed(t *testing.T) {
	d, dir, _ := mount(t, false, nil)
	if err := os.Symlink("d", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "d", "x"), "inside")
	f := open(t, d, "..data/x", rdonly)
	buf := make([]byte, 16)
	if n, e := f.Read(buf); e != 0 || string(buf[:n]) != "inside" {
		t.Errorf("Read through an inside link = %q, %v", buf[:n], e)
	}
	if f, e := d.OpenFile("..data", rdonly|experimentalsys.O_NOFOLLOW, 0); e != experimentalsys.ELOOP {
		if f != nil {
			f.Close()
		}
		t.Errorf("O_NOFOLLOW on a link: errno %v, want ELOOP", e)
	}
}

func TestReadOnlyRefusesEveryChange(t *testing.T) {
	d, dir, _ := mount(t, true, nil)
	for _, flag := range []experimentalsys.Oflag{
		experimentalsys.O_WRONLY, rdwr, experimentalsys.O_CREAT, experimentalsys.O_TRUNC, experimentalsys.O_APPEND,
	} {
		f, e := d.OpenFile("f", flag, 0o644)
		if f != nil {
			f.Close()
		}
		wantErrno(t, fmt.Sprintf("OpenFile %#x", flag), e, experimentalsys.EROFS)
	}
	wantErrno(t, "Mkdir", d.Mkdir("new", 0o755), experimentalsys.EROFS)
	wantErrno(t, "Rmdir", d.Rmdir("d"), experimentalsys.EROFS)
	wantErrno(t, "Unlink", d.Unlink("f"), experimentalsys.EROFS)
	wantErrno(t, "Rename", d.Rename("f", "g"), experimentalsys.EROFS)
	wantErrno(t, "Chmod", d.Chmod("f", 0o777), experimentalsys.EROFS)
	wantErrno(t, "Utimens", d.Utimens("f", 0, 0), experimentalsys.EROFS)
	wantErrno(t, "Symlink", d.Symlink("f", "l"), experimentalsys.EROFS)
	wantErrno(t, "Link", d.Link("f", "l"), experimentalsys.EROFS)

	f := open(t, d, "f", rdonly)
	_, e := f.Write([]byte("x"))
	wantErrno(t, "Write", e, experimentalsys.EBADF)
	_, e = f.Pwrite([]byte("x"), 0)
	wantErrno(t, "Pwrite", e, experimentalsys.EBADF)
	wantErrno(t, "Truncate", f.Truncate(0), experimentalsys.EBADF)
	wantErrno(t, "File.Utimens", f.Utimens(0, 0), experimentalsys.EROFS)
	wantErrno(t, "SetAppend", f.SetAppend(true), experimentalsys.EROFS)
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "data" {
		t.Errorf("the read-only file holds %q", b)
	}
}

func TestOpenFilesAreCapped(t *testing.T) {
	budget := NewBudget(2, 0)
	d, _, _ := mount(t, true, budget)
	// Failed opens do not hold a descriptor.
	for range 5 {
		if _, e := d.OpenFile("missing", rdonly, 0); e != experimentalsys.ENOENT {
			t.Fatalf("OpenFile(missing): %v", e)
		}
	}
	a, _ := d.OpenFile("f", rdonly, 0)
	b, _ := d.OpenFile("d", rdonly, 0)
	if _, e := d.OpenFile("f", rdonly, 0); e != ErrnoLimit {
		t.Fatalf("third open: errno %v, want %v", e, ErrnoLimit)
	}
	if openFiles, _ := budget.Refused(); !openFiles {
		t.Error("Refused does not report the refused open")
	}
	a.Close()
	a.Close() // twice gives back one descriptor only
	c, e := d.OpenFile("f", rdonly, 0)
	if e != 0 {
		t.Fatalf("open after a close: %v", e)
	}
	if _, e := d.OpenFile("f", rdonly, 0); e != ErrnoLimit {
		t.Errorf("open past the cap after a double close: errno %v", e)
	}
	b.Close()
	c.Close()
}

func TestWritesAreBounded(t *testing.T) {
	budget := NewBudget(0, EntryBytes+10)
	d, dir, _ := mount(t, false, budget)
	f := open(t, d, "new", create) // EntryBytes
	if n, e := f.Write([]byte("123456")); n != 6 || e != 0 {
		t.Fatalf("Write = %d, %v", n, e)
	}
	// Overwriting costs nothing.
	if n, e := f.Pwrite([]byte("abcdef"), 0); n != 6 || e != 0 {
		t.Fatalf("Pwrite over = %d, %v", n, e)
	}
	// 4 bytes left: a short write, then none.
	if n, e := f.Write([]byte("789012")); n != 4 || e != 0 {
		t.Fatalf("Write past the budget = %d, %v; want a short write of 4", n, e)
	}
	if n, e := f.Write([]byte("x")); n != 0 || e != ErrnoLimit {
		t.Fatalf("Write with the budget spent = %d, %v", n, e)
	}
	if _, write := budget.Refused(); !write {
		t.Error("Refused does not report the refused write")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "new")); string(b) != "abcdef7890" {
		t.Errorf("file = %q", b)
	}
	// Shrinking gives nothing back; growing again is refused.
	wantErrno(t, "Truncate 0", f.Truncate(0), 0)
	wantErrno(t, "Truncate grow", f.Truncate(1), ErrnoLimit)
	_, e := f.Pwrite([]byte("x"), 0)
	wantErrno(t, "Pwrite at 0 of an empty file", e, ErrnoLimit)
	wantErrno(t, "Mkdir", d.Mkdir("dir", 0o755), ErrnoLimit)
	if g, e := d.OpenFile("other", create, 0o644); e != ErrnoLimit {
		if g != nil {
			g.Close()
		}
		t.Errorf("create with the budget spent: errno %v", e)
	}
	// Opening an existing file with O_CREAT creates nothing.
	open(t, d, "f", create)
	if got := written(budget); got != EntryBytes+10 {
		t.Errorf("Written = %d, want %d", got, EntryBytes+10)
	}
}

func TestHolesAndTruncateCount(t *testing.T) {
	budget := NewBudget(0, EntryBytes+100)
	d, _, _ := mount(t, false, budget)
	f := open(t, d, "new", create)
	if n, e := f.Pwrite([]byte("x"), 1000); n != 0 || e != ErrnoLimit {
		t.Errorf("Pwrite past the budget's end = %d, %v", n, e)
	}
	wantErrno(t, "Truncate past the budget", f.Truncate(101), ErrnoLimit)
	wantErrno(t, "Truncate in the budget", f.Truncate(50), 0)
	if n, e := f.Pwrite([]byte("xx"), 98); n != 2 || e != 0 {
		t.Errorf("Pwrite with a hole in the budget = %d, %v", n, e)
	}
	if _, e := f.Seek(200, io.SeekStart); e != 0 {
		t.Fatal(e)
	}
	if n, e := f.Write([]byte("x")); n != 0 || e != ErrnoLimit {
		t.Errorf("Write after seeking past the end = %d, %v", n, e)
	}
	if got := written(budget); got != EntryBytes+100 {
		t.Errorf("Written = %d, want %d", got, EntryBytes+100)
	}
}

func TestAppend(t *testing.T) {
	d, dir, _ := mount(t, false, nil)
	f := open(t, d, "f", rdwr|experimentalsys.O_APPEND)
	if !f.IsAppend() {
		t.Error("IsAppend is false")
	}
	f.Write([]byte("+"))
	wantErrno(t, "SetAppend false", f.SetAppend(false), 0)
	f.Pwrite([]byte("D"), 0)
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "Data+" {
		t.Errorf("file = %q", b)
	}
}

func TestDirectories(t *testing.T) {
	d, dir, _ := mount(t, false, nil)
	root := open(t, d, ".", rdonly)
	if isDir, _ := root.IsDir(); !isDir {
		t.Fatal("the mount is not a directory")
	}
	names := func() []string {
		dirents, e := root.Readdir(-1)
		if e != 0 {
			t.Fatal(e)
		}
		var names []string
		for _, de := range dirents {
			if de.Ino == 0 {
				t.Errorf("%s has no inode", de.Name)
			}
			names = append(names, de.Name)
		}
		slices.Sort(names)
		return names
	}
	if got := names(); !slices.Equal(got, []string{"abs", "d", "f", "rel", "up"}) {
		t.Errorf("Readdir = %v", got)
	}
	write(t, filepath.Join(dir, "g"), "")
	if _, e := root.Seek(0, io.SeekStart); e != 0 {
		t.Fatal(e)
	}
	if got := names(); !slices.Equal(got, []string{"abs", "d", "f", "g", "rel", "up"}) {
		t.Errorf("Readdir after a rewind = %v", got)
	}
	_, e := root.Seek(1, io.SeekCurrent)
	wantErrno(t, "Seek a directory", e, experimentalsys.EISDIR)
	_, e = open(t, d, "f", rdonly).Readdir(-1)
	wantErrno(t, "Readdir a file", e, experimentalsys.EBADF)

	wantErrno(t, "Mkdir under a file", d.Mkdir("f/x", 0o755), experimentalsys.ENOENT)
	wantErrno(t, "Mkdir existing", d.Mkdir("d", 0o755), experimentalsys.EEXIST)
	wantErrno(t, "Rmdir a file", d.Rmdir("f"), experimentalsys.ENOTDIR)
	wantErrno(t, "Unlink a directory", d.Unlink("d"), experimentalsys.EISDIR)
	wantErrno(t, "Rmdir", d.Rmdir("d"), 0)
	wantErrno(t, "Unlink", d.Unlink("g"), 0)
	wantErrno(t, "Rename", d.Rename("f", "h"), 0)
	if _, err := os.Stat(filepath.Join(dir, "h")); err != nil {
		t.Error(err)
	}
}

func TestModesAndTimes(t *testing.T) {
	d, dir, _ := mount(t, false, nil)
	wantErrno(t, "Chmod", d.Chmod("f", 0o4777), 0)
	if fi, _ := os.Stat(filepath.Join(dir, "f")); fi.Mode() != 0o777 {
		t.Errorf("mode = %v, want 0777 without set-user-ID", fi.Mode())
	}
	mtime := time.Unix(1_000_000, 0)
	wantErrno(t, "Utimens", d.Utimens("f", experimentalsys.UTIME_OMIT, mtime.UnixNano()), 0)
	if st, _ := d.Stat("f"); st.Mtim != mtime.UnixNano() {
		t.Errorf("mtime = %d, want %d", st.Mtim, mtime.UnixNano())
	}
	f := open(t, d, "f", rdonly)
	wantErrno(t, "File.Utimens", f.Utimens(experimentalsys.UTIME_OMIT, 0), 0)
	if st, e := f.Stat(); e != 0 || st.Mtim != 0 || st.Size != 4 {
		t.Errorf("Stat = %+v, %v", st, e)
	}
	f.Close()
	_, e := f.Stat()
	wantErrno(t, "Stat after Close", e, experimentalsys.EBADF)
}

func written(b *Budget) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.written
}

func TestWriteAtTheEndOfOffsets(t *testing.T) {
	d, _, _ := mount(t, false, nil)
	f := open(t, d, "new", create)
	if n, e := f.Pwrite([]byte("xx"), math.MaxInt64-1); n != 0 || e != experimentalsys.EINVAL {
		t.Errorf("Pwrite past the largest offset = %d, %v; want EINVAL", n, e)
	}
}
