package manifest

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tekton-wasm/tekton-wasm/internal/alloctest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// A compressed module stops decompressing one byte past wasmmodule.MaxBytes,
// whatever the stream claims, and costs little more than that.
func TestDecompressionBombs(t *testing.T) {
	huge := make([]byte, wasmmodule.MaxBytes+1<<20)
	copy(huge, wasmMagic)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
	zbomb := enc.EncodeAll(huge, nil)
	enc.Close()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Write(huge)
	zw.Close()
	huge = nil
	p := &Manifest{Name: "bomb", Module: "bomb.wasm"}
	for name, stored := range map[string][]byte{"zstd": zbomb, "gzip": gz.Bytes()} {
		var err error
		alloc := alloctest.Bytes(func() { _, err = p.Decode(stored) })
		if err == nil || !strings.Contains(err.Error(), "decompresses to more than 67108864 bytes") && !strings.Contains(err.Error(), "decompressing") {
			t.Errorf("%s (%d bytes stored): %v; want it refused", name, len(stored), err)
		}
		if alloc > 3*wasmmodule.MaxBytes {
			t.Errorf("%s: decoding allocated %d MiB; want at most %d", name, alloc>>20, 3*wasmmodule.MaxBytes>>20)
		}
	}
}

func TestCheckMemory(t *testing.T) {
	for q, ok := range map[string]bool{"64Ki": true, "64Mi": true, "4Gi": true, "1e6": true,
		"10E": false, "100m": false, "0": false, "65535": false, "4Gi+1": false, "5Gi": false, "-1Mi": false, "1.5": false} {
		quantity, err := resource.ParseQuantity(q)
		if err != nil {
			if ok {
				t.Errorf("%s: %v", q, err)
			}
			continue
		}
		if got := CheckMemory(quantity) == nil; got != ok {
			t.Errorf("CheckMemory(%s) ok = %v; want %v", q, got, ok)
		}
	}
	// As in a manifest: 10E overflowed to 0, which meant the default.
	p := &Manifest{Name: "p", APIVersion: "a/v1", Kind: "K", Module: "m.wasm"}
	q := resource.MustParse("10E")
	p.Limits.Memory = &q
	if err := p.Validate(); err == nil || err.Error() != `plugin "p": limits.memory 10E is not a whole number of bytes from 64Ki to 4Gi; write it like 64Mi` {
		t.Errorf("Validate = %v", err)
	}
}

// A manifest without limits.memory leaves the limit to the engine, whose
// default (engine.DefaultMemory) is then the one that applies; a set
// limit is passed on in bytes.
func TestUnsetMemoryIsTheEnginesDefault(t *testing.T) {
	if got := (Limits{}).MemoryBytes(); got != 0 {
		t.Errorf("MemoryBytes of unset limits = %d; want 0, the engine's default", got)
	}
	q := resource.MustParse("32Mi")
	if got := (Limits{Memory: &q}).MemoryBytes(); got != 32<<20 {
		t.Errorf("MemoryBytes of 32Mi = %d; want %d", got, 32<<20)
	}
}

// A plugin directory's files are read through an os.Root of it, and only
// if they are regular files within their size limit.
func TestLoadDirConfined(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "plugins")
	os.Mkdir(dir, 0o755)
	index := filepath.Join(dir, IndexFile)

	os.WriteFile(filepath.Join(parent, "index.yaml"), []byte("plugins: []\n"), 0o644)
	os.Symlink("../index.yaml", index)
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "path escapes from parent") {
		t.Errorf("index symlinked out of the directory: %v", err)
	}
	os.Remove(index)

	f, _ := os.Create(index)
	f.Truncate(MaxIndexBytes + 1)
	f.Close()
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "it is 1048577 bytes, more than the limit of 1048576") {
		t.Errorf("index over the limit: %v", err)
	}

	os.WriteFile(index, []byte("plugins:\n- {name: p, apiVersion: a/v1, kind: K, module: fifo.wasm}\n"), 0o644)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadModule(dir, &idx.Plugins[0]); err == nil || err.Error() != `plugin "p": reading module "fifo.wasm": fifo.wasm is not a regular file` {
		t.Errorf("module that is a FIFO: %v", err)
	}
}

// limits.cleanup is positive and at most MaxCleanup; unset, the grace
// period is the state machine's default.
func TestCleanupLimit(t *testing.T) {
	for _, tc := range []struct {
		cleanup time.Duration
		err     string
	}{
		{10 * time.Second, ""},
		{MaxCleanup, ""},
		{0, `plugin "p": limits.cleanup 0s is not from 1ns to 5m0s; give the clean-up call a grace period such as 10s`},
		{-time.Second, `plugin "p": limits.cleanup -1s is not from 1ns to 5m0s`},
		{MaxCleanup + time.Second, `plugin "p": limits.cleanup 5m1s is not from 1ns to 5m0s`},
	} {
		p := Manifest{Name: "p", APIVersion: "p.dev/v1", Kind: "P", Module: "p.wasm", Limits: Limits{Cleanup: &metav1.Duration{Duration: tc.cleanup}}}
		err := p.Validate()
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("limits.cleanup %s: Validate = %v, want %q", tc.cleanup, err, tc.err)
		}
		if err == nil && p.Limits.CleanupGrace() != tc.cleanup {
			t.Errorf("limits.cleanup %s: CleanupGrace = %s", tc.cleanup, p.Limits.CleanupGrace())
		}
	}
	if g := (Limits{}).CleanupGrace(); g != 0 {
		t.Errorf("unset limits.cleanup: CleanupGrace = %s, want 0 (the state machine's default)", g)
	}
}
