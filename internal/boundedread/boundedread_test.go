package boundedread

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileAndAll(t *testing.T) {
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	os.WriteFile(small, []byte("1234"), 0o644)
	// A sparse file: its size is known without writing (or reading) it.
	f, _ := os.Create(big)
	f.Truncate(1 << 40)
	f.Close()

	if b, err := Open(small, 4); err != nil || string(b) != "1234" {
		t.Errorf("Open(small, 4) = %q, %v", b, err)
	}
	var tl *TooLargeError
	if _, err := Open(small, 3); !errors.As(err, &tl) || tl.Size != 4 {
		t.Errorf("Open(small, 3) = %v; want TooLargeError with size 4", err)
	}
	if _, err := Open(big, 1<<20); !errors.As(err, &tl) || err.Error() != "it is 1099511627776 bytes, more than the limit of 1048576" {
		t.Errorf("Open(big) = %v", err)
	}
	if _, err := All(strings.NewReader("12345"), 4); !errors.As(err, &tl) || err.Error() != "it is more than the limit of 4 bytes" {
		t.Errorf("All = %v", err)
	}
	if b, err := All(bytes.NewReader(nil), 0); err != nil || len(b) != 0 {
		t.Errorf("All(empty) = %q, %v", b, err)
	}
}
