// Package boundedread reads inputs whole only when they are small enough:
// a regular file's size is checked before any of it is read, and a stream
// (or a file that grows) is read one byte past the limit at most, so an
// input of any size costs at most its limit in memory.
package boundedread

import (
	"fmt"
	"io"
	"os"
)

// TooLargeError is the error for an input over its limit.
type TooLargeError struct {
	// Size is the input's size when known before reading, else 0.
	Size  int64
	Limit int64
}

func (e *TooLargeError) Error() string {
	if e.Size > 0 {
		return fmt.Sprintf("it is %d bytes, more than the limit of %d", e.Size, e.Limit)
	}
	return fmt.Sprintf("it is more than the limit of %d bytes", e.Limit)
}

// All reads r to its end if it holds at most limit bytes.
func All(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return b, nil
}

// File reads f to its end if it holds at most limit bytes, checking the
// size of a regular file before reading.
func File(f *os.File, limit int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, &TooLargeError{Size: fi.Size(), Limit: limit}
	}
	return All(f, limit)
}

// Open reads the named file with File.
func Open(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return File(f, limit)
}
