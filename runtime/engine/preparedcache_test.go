package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/internal/cachefile"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// countPrepare counts the calls of prepare until the test ends.
func countPrepare(t *testing.T) *int {
	orig := prepare
	t.Cleanup(func() { prepare = orig })
	n := new(int)
	prepare = func(wasm []byte) (*preparedModule, error) {
		*n++
		return orig(wasm)
	}
	return n
}

// TestCompileDigestFromThePreparedCache checks that an engine on a cache
// directory an earlier engine filled compiles a module by its digest
// alone, without preparing it again, and that the module runs.
func TestCompileDigestFromThePreparedCache(t *testing.T) {
	dir := t.TempDir()
	wasm := cReactor(t)
	digest := wasmmodule.Digest(wasm)
	prepared := countPrepare(t)

	first := newEngine(t, Config{CacheDir: dir})
	if _, err := first.CompileDigest(context.Background(), digest, Limits{}); !errors.Is(err, ErrNotCached) {
		t.Fatalf("CompileDigest before any Compile = %v; want ErrNotCached", err)
	}
	mustCompile(t, first, wasm, Limits{})
	if *prepared != 1 {
		t.Fatalf("the first Compile prepared the module %d times, want once", *prepared)
	}

	second := newEngine(t, Config{CacheDir: dir})
	p, err := second.CompileDigest(context.Background(), digest, Limits{})
	if err != nil {
		t.Fatalf("CompileDigest from the cache: %v", err)
	}
	defer p.Close(context.Background())
	if p.Digest() != digest {
		t.Errorf("Digest() = %s, want %s", p.Digest(), digest)
	}
	results(t, invoke(t, p, request(), Invocation{}))
	// The same module under another limit, by digest or by bytes: the
	// prepared module again, never prepare.
	q, err := second.CompileDigest(context.Background(), digest, Limits{MemoryBytes: 2 << 20})
	if err != nil {
		t.Fatalf("CompileDigest under another limit: %v", err)
	}
	q.Close(context.Background())
	mustCompile(t, newEngine(t, Config{CacheDir: dir}), wasm, Limits{})
	if *prepared != 1 {
		t.Errorf("prepare ran %d times; want once, before the module was cached", *prepared)
	}
	for _, bad := range []string{"", "xyz", strings.ToUpper(digest), digest[:62]} {
		if _, err := second.CompileDigest(context.Background(), bad, Limits{}); !errors.Is(err, ErrNotCached) {
			t.Errorf("CompileDigest(%q) = %v; want ErrNotCached", bad, err)
		}
	}
}

// TestDamagedPreparedEntries checks that a truncated entry, or one whose
// checksum holds but which wazero refuses, is not used: CompileDigest
// answers ErrNotCached and Compile prepares the module again.
func TestDamagedPreparedEntries(t *testing.T) {
	wasm := cReactor(t)
	digest := wasmmodule.Digest(wasm)
	for name, damage := range map[string]func(t *testing.T, dir string){
		"truncated": func(t *testing.T, dir string) {
			path := filepath.Join(preparedDir(dir), digest)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b[:len(b)/2], 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"refused by wazero": func(t *testing.T, dir string) {
			if err := cachefile.Write(preparedDir(dir), digest, []byte("\x00asm\x01\x00\x00\x00\x0a\xff")); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			mustCompile(t, newEngine(t, Config{CacheDir: dir}), wasm, Limits{})
			damage(t, dir)
			prepared := countPrepare(t)
			e := newEngine(t, Config{CacheDir: dir})
			if _, err := e.CompileDigest(context.Background(), digest, Limits{}); !errors.Is(err, ErrNotCached) {
				t.Fatalf("CompileDigest = %v; want ErrNotCached", err)
			}
			p := mustCompile(t, e, wasm, Limits{})
			results(t, invoke(t, p, request(), Invocation{}))
			if *prepared != 1 {
				t.Errorf("prepare ran %d times; want once", *prepared)
			}
			// Compile stored a good entry again.
			if _, err := newEngine(t, Config{CacheDir: dir}).CompileDigest(context.Background(), digest, Limits{}); err != nil {
				t.Errorf("CompileDigest after Compile: %v", err)
			}
		})
	}
}

// preparedFormatDigest is the digest of the cache entry (encodePrepared)
// of prepareModule's output for testdata/prepared_format.wasm, with a
// producers section added, in preparedFormat.
const preparedFormatDigest = "e9b9e8b88bf579bc0a9bcac32e4f3e0f2173ae0b3b1f5a10960166cb697e60b2"

// TestPreparedFormatIsCurrent fails when prepareModule's output or the
// entries' encoding changes without preparedFormat: cached prepared modules would then differ from
// what this version of the host makes of the same module.
func TestPreparedFormatIsCurrent(t *testing.T) {
	wasm, err := os.ReadFile(filepath.Join("testdata", "prepared_format.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	// With a custom section besides its name section, which preparation
	// drops.
	if wasm, err = wasmmodule.SetCustomSection(wasm, "producers", []byte{0}); err != nil {
		t.Fatal(err)
	}
	prepared, err := prepareModule(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if got := wasmmodule.Digest(encodePrepared(prepared)); got != preparedFormatDigest {
		t.Errorf("prepareModule's output for testdata/prepared_format.wasm has changed (sha256 %s): "+
			"increment preparedFormat in preparedcache.go (now %d) and set preparedFormatDigest to the new digest", got, preparedFormat)
	}
}

// TestPreparedCacheKeepsTheDescription checks that a Go reactor compiled
// from the prepared-module cache has what prepareModule said of it: its
// instances without mounts come from a snapshot (the globals' names), and
// one with a mount, which initializes for real, gets the data segments
// taken out of the module. Without them in the entry, the first call
// would find no snapshot taken and the second would run on zeroed data.
func TestPreparedCacheKeepsTheDescription(t *testing.T) {
	dir := t.TempDir()
	wasm := guestPlugin(t, true)
	fresh, err := prepareModule(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.data == nil || len(fresh.globals) == 0 || fresh.noSnapshot != "" {
		t.Fatalf("the Go reactor's prepared module: %d data segments taken out, globals %v, noSnapshot %q; the test needs all three",
			len(fresh.data), fresh.globals, fresh.noSnapshot)
	}
	mustCompile(t, newEngine(t, Config{CacheDir: dir}), wasm, Limits{})

	p, err := newEngine(t, Config{CacheDir: dir}).CompileDigest(context.Background(), wasmmodule.Digest(wasm), Limits{})
	if err != nil {
		t.Fatalf("CompileDigest from the cache: %v", err)
	}
	defer p.Close(context.Background())
	for i := range 2 {
		if got := results(t, invoke(t, p, request("mode", "echo"), Invocation{}))["params"]; got != "mode" {
			t.Errorf("call %d from the snapshot: result params = %q, want mode", i, got)
		}
	}
	if snap, refused := p.c.snaps.state(); snap == nil {
		t.Errorf("no snapshot was taken of the reactor from the cache (refused: %q)", refused)
	}
	if got := results(t, invoke(t, p, request("mode", "echo"), Invocation{Mounts: []Mount{{HostDir: t.TempDir(), GuestPath: "/w"}}}))["params"]; got != "mode" {
		t.Errorf("a call with a mount (data segments written by the engine): result params = %q, want mode", got)
	}
}

// TestDecodedDataDoesNotKeepTheEntry checks that the data segments of a
// prepared module read from the cache do not point into the entry's
// bytes: the compiled module keeps them for its lifetime, and pointing
// into the entry they would keep the whole prepared module in memory
// (2.6 MiB more heap per Go plugin loaded from the cache).
func TestDecodedDataDoesNotKeepTheEntry(t *testing.T) {
	pm, err := prepareModule(guestPlugin(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(pm.data) == 0 {
		t.Fatal("the Go reactor's prepared module has no data segments taken out; the test needs some")
	}
	entry := encodePrepared(pm)
	decoded, err := decodePrepared(entry)
	if err != nil {
		t.Fatal(err)
	}
	clear(entry)
	for i, s := range decoded.data {
		if !bytes.Equal(s.init, pm.data[i].init) || s.offset != pm.data[i].offset {
			t.Fatalf("data segment %d changed when the entry's bytes were overwritten: it points into them", i)
		}
	}
}
