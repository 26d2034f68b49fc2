package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// runCapture runs the command and returns its exit code, stderr and the
// bytes it allocated.
func runCapture(t *testing.T, stdin io.Reader, args ...string) (code int, stderr string, alloc uint64) {
	t.Helper()
	var out, errb bytes.Buffer
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code = run(context.Background(), args, stdin, &out, &errb)
	runtime.ReadMemStats(&after)
	return code, errb.String(), after.TotalAlloc - before.TotalAlloc
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// run -f used to read any file whole: a 100 MB file cost its size (and
// more) in memory before the YAML parser refused it.
func TestRunInputCapped(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct {
		name  string
		stdin io.Reader
		file  string
		want  string
	}{
		{name: "file", file: big, want: "tkn-wasm: reading the CustomRun: " + big + ": it is 104857600 bytes, more than the limit of 4194304; a CustomRun is never that large (is this the right file?)\n"},
		{name: "stdin", stdin: io.LimitReader(zeros{}, 100<<20), file: "-", want: "tkn-wasm: reading the CustomRun: -: it is more than the limit of 4194304 bytes; a CustomRun is never that large (is this the right file?)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr, alloc := runCapture(t, tc.stdin, "run", "-f", tc.file, "--plugin", "x.wasm")
			if code != exitUsage || stderr != tc.want {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr, exitUsage, tc.want)
			}
			if alloc > 3*MaxCustomRunBytes {
				t.Errorf("allocated %d MiB; want at most %d", alloc>>20, 3*MaxCustomRunBytes>>20)
			}
		})
	}
}

// pack --memory 10E overflowed to 0 (and so meant the default 64Mi) and
// 100m meant one byte; neither is a memory limit.
func TestPackMemoryRefused(t *testing.T) {
	module := filepath.Join(t.TempDir(), "x.wasm")
	if err := os.WriteFile(module, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"10E", "100m", "0", "1", "64000", "4097Mi", "-64Mi", "1.5Ki"} {
		code, stderr, _ := runCapture(t, nil, "pack", module, "--api-version", "x.dev/v1", "--kind", "X", "--memory", q)
		if code != exitUsage || !strings.Contains(stderr, "is not a whole number of bytes from 64Ki to 4Gi; write it like 64Mi") {
			t.Errorf("--memory %s: exit %d, stderr %q; want it refused", q, code, stderr)
		}
	}
}

// An index.yaml entry with module ../x used to load a file outside the
// plugin directory, read whole before its size was checked.
func TestRunPluginsConfined(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "plugins")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(parent, "outside.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	os.Symlink("../outside.wasm", filepath.Join(dir, "link.wasm"))
	if f, err := os.Create(filepath.Join(dir, "huge.wasm")); err == nil {
		f.Truncate(128 << 20) // sparse: nothing is written, nothing must be read
		f.Close()
	}
	cr := filepath.Join(parent, "run.yaml")
	os.WriteFile(cr, []byte("apiVersion: tekton.dev/v1beta1\nkind: CustomRun\nmetadata: {name: r}\nspec:\n  customRef: {apiVersion: x.dev/v1, kind: X}\n"), 0o644)
	for module, want := range map[string]string{
		"../outside.wasm":                     `module "../outside.wasm" is not inside the plugin directory`,
		filepath.Join(parent, "outside.wasm"): "is not inside the plugin directory",
		"link.wasm":                           `plugin "x": reading module "link.wasm": openat link.wasm: path escapes from parent`,
		"huge.wasm":                           `plugin "x": reading module "huge.wasm": it is 134217728 bytes, more than the limit of 67108864`,
	} {
		os.WriteFile(filepath.Join(dir, "index.yaml"), []byte("plugins:\n- {name: x, apiVersion: x.dev/v1, kind: X, module: '"+module+"'}\n"), 0o644)
		code, stderr, alloc := runCapture(t, nil, "run", "-f", cr, "--plugins", dir, "--cache-dir", "")
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("module %s: exit %d, stderr %q; want %d and %q", module, code, stderr, exitUsage, want)
		}
		if alloc > 16<<20 {
			t.Errorf("module %s: allocated %d MiB", module, alloc>>20)
		}
	}
}

func TestPackMemoryAccepted(t *testing.T) {
	module := filepath.Join(t.TempDir(), "x.wasm")
	if err := os.WriteFile(module, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"64Ki", "65536", "128Mi", "4Gi", "1e6"} {
		code, stderr, _ := runCapture(t, nil, "pack", module, "--api-version", "x.dev/v1", "--kind", "X", "--memory", q)
		if code != 0 {
			t.Errorf("--memory %s: exit %d, stderr %q; want it accepted", q, code, stderr)
		}
	}
}
