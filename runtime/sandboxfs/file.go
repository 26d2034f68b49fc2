package sandboxfs

import (
	"io"
	"math"
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// file is a file or directory the guest opened: one host descriptor,
// counted in the FS's Budget until Close.
type file struct {
	experimentalsys.UnimplementedFile
	fs   *FS
	path string // in fs.root, to reopen the file
	flag int    // os.OpenFile's flags to reopen it, without O_APPEND
	f    *os.File

	append, nonblock, closed bool
	// rewind is set when the guest seeks a directory back to its start:
	// the next Readdir reopens it, to list entries added since.
	rewind bool
	// stat holds what cannot change while the file is open, once known.
	stat *cachedStat
}

type cachedStat struct {
	dev   uint64
	ino   sys.Inode
	isDir bool
}

var _ experimentalsys.PollableFile = (*file)(nil)

func (f *file) cached() (uint64, sys.Inode, bool, experimentalsys.Errno) {
	if f.stat == nil {
		if _, e := f.Stat(); e != 0 {
			return 0, 0, false, e
		}
	}
	return f.stat.dev, f.stat.ino, f.stat.isDir, 0
}

// Dev implements experimentalsys.File.
func (f *file) Dev() (uint64, experimentalsys.Errno) {
	dev, _, _, e := f.cached()
	return dev, e
}

// Ino implements experimentalsys.File.
func (f *file) Ino() (sys.Inode, experimentalsys.Errno) {
	_, ino, _, e := f.cached()
	return ino, e
}

// IsDir implements experimentalsys.File.
func (f *file) IsDir() (bool, experimentalsys.Errno) {
	_, _, isDir, e := f.cached()
	return isDir, e
}

// Stat implements experimentalsys.File.
func (f *file) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	st := sys.NewStat_t(fi)
	f.stat = &cachedStat{st.Dev, st.Ino, fi.IsDir()}
	return st, 0
}

// IsAppend implements experimentalsys.File.
func (f *file) IsAppend() bool { return f.append }

// SetAppend implements experimentalsys.File. A descriptor's append mode
// is fixed when it is opened, so the file is opened again through the
// root, at the same offset.
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if enable == f.append {
		return 0
	}
	if enable && f.fs.readOnly {
		return experimentalsys.EROFS
	}
	flag := f.flag
	if enable {
		flag |= os.O_APPEND
	}
	offset, err := f.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return errno(err)
	}
	g, err := f.fs.root.OpenFile(f.path, flag, 0)
	if err != nil {
		return errno(err)
	}
	if e := f.replace(g); e != 0 {
		return e
	}
	if _, err := f.f.Seek(offset, io.SeekStart); err != nil {
		return errno(err)
	}
	f.append = enable
	return 0
}

// replace swaps f's descriptor for g, a new one of the same file.
func (f *file) replace(g *os.File) experimentalsys.Errno {
	was, err := f.f.Stat()
	if err != nil {
		_ = g.Close()
		return errno(err)
	}
	is, err := g.Stat()
	if err != nil {
		_ = g.Close()
		return errno(err)
	}
	if !os.SameFile(was, is) {
		_ = g.Close()
		return experimentalsys.ENOENT // renamed or removed since it was opened
	}
	_ = f.f.Close()
	f.f = g
	return 0
}

// IsNonblock implements experimentalsys.PollableFile.
func (f *file) IsNonblock() bool { return f.nonblock }

// SetNonblock implements experimentalsys.PollableFile. Files and
// directories never block, so the mode is only remembered.
func (f *file) SetNonblock(enable bool) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	f.nonblock = enable
	return 0
}

// Poll implements experimentalsys.PollableFile: files and directories are
// always ready.
func (f *file) Poll(experimentalsys.Pflag, int32) (bool, experimentalsys.Errno) {
	if f.closed {
		return false, experimentalsys.EBADF
	}
	return true, 0
}

// Read implements experimentalsys.File.
func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	return n, f.fileErrno(err)
}

// Pread implements experimentalsys.File.
func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	return n, f.fileErrno(err)
}

// seekOffset is int64. wazero's File.Seek returns an Errno where io.Seeker
// returns an error, which go vet's stdmethods check reports for a Seek
// whose first parameter is spelled int64.
type seekOffset = int64

// Seek implements experimentalsys.File. A directory may only be rewound.
func (f *file) Seek(offset seekOffset, whence int) (int64, experimentalsys.Errno) {
	if uint(whence) > io.SeekEnd {
		return 0, experimentalsys.EINVAL
	}
	isDir, e := f.IsDir()
	if e != 0 {
		return 0, e
	}
	if isDir {
		if offset != 0 || whence != io.SeekStart {
			return 0, experimentalsys.EISDIR
		}
		f.rewind = true
		return 0, 0
	}
	n, err := f.f.Seek(offset, whence)
	return n, f.fileErrno(err)
}

// Readdir implements experimentalsys.File.
func (f *file) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if f.closed {
		return nil, experimentalsys.EBADF
	}
	if f.rewind {
		f.rewind = false
		g, err := f.fs.root.OpenFile(f.path, os.O_RDONLY, 0)
		if err != nil {
			return nil, errno(err)
		}
		if e := f.replace(g); e != 0 {
			return nil, e
		}
	}
	fis, err := f.f.Readdir(n)
	if err != nil && err != io.EOF {
		switch e := errno(err); e {
		case experimentalsys.EINVAL, experimentalsys.ENOTDIR:
			return nil, experimentalsys.EBADF // not a directory
		default:
			return nil, e
		}
	}
	dirents := make([]experimentalsys.Dirent, 0, len(fis))
	for _, fi := range fis {
		dirents = append(dirents, experimentalsys.Dirent{Name: fi.Name(), Ino: sys.NewStat_t(fi).Ino, Type: fi.Mode().Type()})
	}
	return dirents, 0
}

// Write implements experimentalsys.File: the bytes that grow the file are
// drawn from the Budget.
func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	off := int64(-1) // at the end
	if !f.append {
		var err error
		if off, err = f.f.Seek(0, io.SeekCurrent); err != nil {
			return 0, f.fileErrno(err)
		}
	}
	return f.grow(buf, off, f.f.Write)
}

// Pwrite implements experimentalsys.File like Write, at off.
func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	return f.grow(buf, off, func(b []byte) (int, error) { return f.f.WriteAt(b, off) })
}

// grow writes buf at off (-1: at the end of the file) with write, after
// taking from the Budget what it grows the file by. When the Budget cannot
// pay for all of buf, the bytes it can pay for are written (a short write,
// as when a disk fills up), and ErrnoLimit is returned when it cannot pay
// for one.
func (f *file) grow(buf []byte, off int64, write func([]byte) (int, error)) (int, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	if f.fs.readOnly {
		return 0, experimentalsys.EBADF // opened for reading only
	}
	fi, err := f.f.Stat()
	if err != nil {
		return 0, f.fileErrno(err)
	}
	size := fi.Size()
	if off < 0 {
		off = size
	}
	if off > math.MaxInt64-int64(len(buf)) {
		return 0, experimentalsys.EINVAL // the end would not be an offset
	}
	want := growth(size, off, int64(len(buf)))
	granted := f.fs.budget.grow(want)
	if short := want - granted; short > 0 {
		if int64(len(buf)) <= short {
			f.fs.budget.refund(granted)
			return 0, ErrnoLimit
		}
		buf = buf[:int64(len(buf))-short]
	}
	n, err := write(buf)
	f.fs.budget.refund(granted - growth(size, off, int64(n)))
	return n, f.fileErrno(err)
}

// growth is how much writing n bytes at off grows a file of size bytes.
func growth(size, off, n int64) int64 {
	return max(0, off+n-size)
}

// Truncate implements experimentalsys.File: growing the file draws on the
// Budget, shrinking it gives nothing back.
func (f *file) Truncate(size int64) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if size < 0 {
		return experimentalsys.EINVAL
	}
	if f.fs.readOnly {
		return experimentalsys.EBADF // opened for reading only
	}
	fi, err := f.f.Stat()
	if err != nil {
		return f.fileErrno(err)
	}
	want := size - fi.Size()
	if granted := f.fs.budget.grow(want); granted < want {
		f.fs.budget.refund(granted)
		return ErrnoLimit
	}
	if err := f.f.Truncate(size); err != nil {
		f.fs.budget.refund(want)
		return f.fileErrno(err)
	}
	return 0
}

// Sync implements experimentalsys.File.
func (f *file) Sync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return errno(f.f.Sync())
}

// Datasync implements experimentalsys.File, as Sync.
func (f *file) Datasync() experimentalsys.Errno { return f.Sync() }

// Utimens implements experimentalsys.File. The times are set through the
// root on the path the file was opened with.
func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if f.fs.readOnly {
		return experimentalsys.EROFS
	}
	return f.fs.utimens(f.path, atim, mtim)
}

// Close implements experimentalsys.File and gives its descriptor back to
// the Budget.
func (f *file) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	f.fs.budget.release()
	return errno(f.f.Close())
}

// fileErrno maps err from an operation on f, saying EBADF once f is
// closed and EISDIR for a file operation on a directory, as wazero expects.
func (f *file) fileErrno(err error) experimentalsys.Errno {
	e := errno(err)
	if e == 0 {
		return 0
	}
	if f.closed {
		return experimentalsys.EBADF
	}
	if isDir, _ := f.IsDir(); isDir {
		return experimentalsys.EISDIR
	}
	return e
}
