// Package sandboxfs owns the file system a plugin sees through a mount: a
// wazero experimental/sys.FS over one host directory that nothing the guest
// does can leave, and the per-invocation Budget of descriptors and bytes
// every mount of an invocation draws on.
//
// Guarantees, whatever path the guest gives and whatever it finds in the
// directory:
//
//   - Confinement. Every path is resolved by an os.Root opened on the
//     mount's directory: ".." never climbs above it, and a symbolic link
//     already in the directory is followed only while it stays inside
//     (one that points out, or is absolute, fails). wazero's own sysfs
//     follows links anywhere on the host and its maintainers state that
//     sandboxing it is out of scope, hence this package.
//   - No new links. Symlink and Link are refused with EPERM, the errno
//     POSIX gives for a file system that does not support them. A link
//     confined while the guest resolves it would still point wherever it
//     says for anyone else reading the directory later (the local user,
//     the next step of a pipeline), and a hard link gives a second name
//     to a file the quota already counted; no plugin needs either.
//   - Read-only mounts are read-only here, not only in the guest's
//     rights: opening for writing, creating, truncating, mkdir, rmdir,
//     unlink, rename, chmod and utimes all fail with EROFS.
//   - Bounded host resources: see Budget. A refused descriptor or write
//     reaches the guest as EIO (ErrnoLimit).
//
// Modes given to chmod, mkdir and open are masked to the permission bits
// (0o777): a plugin cannot make set-user-ID files.
package sandboxfs

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// ErrnoLimit is the errno the guest gets when its Budget refuses a
// descriptor or bytes. The host means EMFILE or ENOSPC, but wazero's WASI
// layer (v1.12) reports every errno outside its own subset as EIO, the
// errno a guest already gets when the host's disk is full; Budget.Refused
// tells the host which limit was hit.
const ErrnoLimit = experimentalsys.EIO

// permBits are the mode bits a guest may set.
const permBits = fs.ModePerm

// FS is one mount: a directory the guest reaches through a wazero
// experimental/sys.FS. Mount it with wazero's sysfs.FSConfig
// WithSysFSMount; Close it once the instance using it is closed.
type FS struct {
	experimentalsys.UnimplementedFS
	root     *os.Root
	readOnly bool
	budget   *Budget
}

// Open returns the FS of the directory dir, drawing on budget (shared by
// every mount of one invocation).
func Open(dir string, readOnly bool, budget *Budget) (*FS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &FS{root: root, readOnly: readOnly, budget: budget}, nil
}

// Close releases the directory. Files the guest still holds keep working
// until they are closed.
func (d *FS) Close() error { return d.root.Close() }

// name is the os.Root name of a path wazero gives: relative to the mount,
// already cleaned of "..", "" or "." for the mount itself.
func name(path string) string {
	if path == "" || path == "/" {
		return "."
	}
	return path
}

// errno maps a host error to the guest's errno. os.Root refuses a path or
// a link that would leave the root with an error that is not a system
// errno: the guest gets EPERM, as wazero gives for a path above a mount.
func errno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	e := experimentalsys.UnwrapOSError(err)
	var se syscall.Errno
	if e == experimentalsys.EIO && !errors.As(err, &se) {
		return experimentalsys.EPERM
	}
	return e
}

// OpenFile implements experimentalsys.FS.
func (d *FS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	path = name(path)
	writes := flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0
	if d.readOnly && writes {
		return nil, experimentalsys.EROFS
	}
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		// os.Root follows links inside the root; the guest asked not to.
		if fi, err := d.root.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	if !d.budget.acquire() {
		return nil, ErrnoLimit
	}
	var charged int64
	if flag&experimentalsys.O_CREAT != 0 && d.creates(path, flag) {
		if charged = d.budget.grow(EntryBytes); charged < EntryBytes {
			d.budget.refund(charged)
			d.budget.release()
			return nil, ErrnoLimit
		}
	}
	f, err := d.root.OpenFile(path, osFlag(flag), perm&permBits)
	if err != nil {
		d.budget.refund(charged)
		d.budget.release()
		return nil, errno(err)
	}
	reopen := osFlag(flag) &^ (os.O_CREATE | os.O_EXCL | os.O_TRUNC | os.O_APPEND)
	return &file{fs: d, path: path, flag: reopen, f: f, append: flag&experimentalsys.O_APPEND != 0, nonblock: flag&experimentalsys.O_NONBLOCK != 0}, 0
}

// creates reports whether opening path with O_CREAT makes a new file.
func (d *FS) creates(path string, flag experimentalsys.Oflag) bool {
	if flag&experimentalsys.O_EXCL != 0 {
		return true
	}
	_, err := d.root.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// osFlag converts wazero's open flags to os.OpenFile's.
func osFlag(flag experimentalsys.Oflag) int {
	var f int
	switch flag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		f = os.O_RDWR
	case experimentalsys.O_WRONLY:
		f = os.O_WRONLY
	default:
		f = os.O_RDONLY
	}
	for _, m := range []struct {
		wazero experimentalsys.Oflag
		os     int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_SYNC | experimentalsys.O_DSYNC | experimentalsys.O_RSYNC, os.O_SYNC},
		{experimentalsys.O_DIRECTORY, syscall.O_DIRECTORY},
	} {
		if flag&m.wazero != 0 {
			f |= m.os
		}
	}
	return f
}

// Lstat implements experimentalsys.FS.
func (d *FS) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := d.root.Lstat(name(path))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements experimentalsys.FS.
func (d *FS) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := d.root.Stat(name(path))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Readlink implements experimentalsys.FS: the guest may read links it
// finds, never create them.
func (d *FS) Readlink(path string) (string, experimentalsys.Errno) {
	target, err := d.root.Readlink(name(path))
	return target, errno(err)
}

// Mkdir implements experimentalsys.FS. A directory costs EntryBytes.
func (d *FS) Mkdir(path string, perm fs.FileMode) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	if granted := d.budget.grow(EntryBytes); granted < EntryBytes {
		d.budget.refund(granted)
		return ErrnoLimit
	}
	err := d.root.Mkdir(name(path), perm&permBits)
	if err == nil {
		return 0
	}
	d.budget.refund(EntryBytes)
	if e := errno(err); e != experimentalsys.ENOTDIR {
		return e
	}
	return experimentalsys.ENOENT // a parent is not a directory, as wazero's sysfs says
}

// Chmod implements experimentalsys.FS.
func (d *FS) Chmod(path string, perm fs.FileMode) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	return errno(d.root.Chmod(name(path), perm&permBits))
}

// Rename implements experimentalsys.FS.
func (d *FS) Rename(from, to string) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	return errno(d.root.Rename(name(from), name(to)))
}

// Rmdir implements experimentalsys.FS.
func (d *FS) Rmdir(path string) experimentalsys.Errno { return d.remove(path, true) }

// Unlink implements experimentalsys.FS.
func (d *FS) Unlink(path string) experimentalsys.Errno { return d.remove(path, false) }

// remove removes path, which must be a directory (Rmdir) or must not
// (Unlink).
func (d *FS) remove(path string, dir bool) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	path = name(path)
	fi, err := d.root.Lstat(path)
	switch {
	case err != nil:
		return errno(err)
	case dir && !fi.IsDir():
		return experimentalsys.ENOTDIR
	case !dir && fi.IsDir():
		return experimentalsys.EISDIR
	}
	return errno(d.root.Remove(path))
}

// Link implements experimentalsys.FS: refused (see the package doc).
func (d *FS) Link(_, _ string) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	return experimentalsys.EPERM
}

// Symlink implements experimentalsys.FS: refused (see the package doc).
func (d *FS) Symlink(_, _ string) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	return experimentalsys.EPERM
}

// Utimens implements experimentalsys.FS.
func (d *FS) Utimens(path string, atim, mtim int64) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	return d.utimens(name(path), atim, mtim)
}

func (d *FS) utimens(path string, atim, mtim int64) experimentalsys.Errno {
	return errno(d.root.Chtimes(path, timeOrOmit(atim), timeOrOmit(mtim)))
}

// timeOrOmit converts a wazero timestamp to os.Root.Chtimes's, where the
// zero time leaves the timestamp unchanged.
func timeOrOmit(nanos int64) time.Time {
	if nanos == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, nanos)
}
