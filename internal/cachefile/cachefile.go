// Package cachefile stores entries of the controller's on-disk caches as
// files that are either whole or refused: each is written to a temporary
// file and renamed into place (readers never see a partial entry), and
// carries its name, length and CRC-32C, which Read checks, so that a
// truncated, damaged or misplaced entry reads as missing and the caller
// takes its full path instead. The checks guard against accidents, not
// against someone else writing the directory: a cache directory must be
// writable by its process alone.
package cachefile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
)

// magic starts every entry, followed by the name's length (1 byte), the
// name, the data's length (8 bytes, little-endian), the CRC-32C of all
// that precedes the data and the data (4 bytes), and the data.
const magic = "tekton-wasm cache entry 1\n"

var crc = crc32.MakeTable(crc32.Castagnoli)

// ErrDamaged is the error for an entry that is present but fails a check.
var ErrDamaged = errors.New("the cache entry is damaged")

// Write stores data as the entry name of dir (created if missing),
// replacing any entry of that name. name must be a file name, at most 255
// bytes.
func Write(dir, name string, data []byte) error {
	if len(name) > 255 || filepath.Base(name) != name {
		return fmt.Errorf("cachefile: %q is not a file name", name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	head := header(name, data)
	if _, err := f.Write(head); err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, name))
}

// Read returns the data of the entry name of dir: an error wrapping
// fs.ErrNotExist when there is none, ErrDamaged when it fails a check, or
// a boundedread.TooLargeError when it is over limit bytes.
func Read(dir, name string, limit int64) ([]byte, error) {
	b, err := boundedread.Open(filepath.Join(dir, name), limit+int64(len(magic)+1+len(name)+12))
	if err != nil {
		return nil, err
	}
	n := len(magic) + 1 + len(name) + 12
	if len(b) < n {
		return nil, ErrDamaged
	}
	data := b[n:]
	if want := header(name, data); !bytes.Equal(b[:n], want) {
		return nil, ErrDamaged
	}
	return data, nil
}

// header is what precedes data in the entry name.
func header(name string, data []byte) []byte {
	h := append([]byte(magic), byte(len(name)))
	h = append(h, name...)
	h = binary.LittleEndian.AppendUint64(h, uint64(len(data)))
	sum := crc32.Update(crc32.Checksum(h, crc), crc, data)
	return binary.LittleEndian.AppendUint32(h, sum)
}

// Remove deletes the entry name of dir, if any.
func Remove(dir, name string) error {
	err := os.Remove(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
