package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// A module carrying a custom section the host does not know, as one
// carrying its manifest does (manifest.Embed), compiles and runs.
func TestModuleWithAnAppendedCustomSectionRuns(t *testing.T) {
	wasm, err := wasmmodule.SetCustomSection(wat(t, "ok"), "tekton-wasm.manifest", []byte(`{"name":"ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, sharedEngine(t), wasm, Limits{})
	if p.Digest() != wasmmodule.Digest(wasm) {
		t.Errorf("Digest %s; want the digest of the final bytes %s", p.Digest(), wasmmodule.Digest(wasm))
	}
	if resp := invoke(t, p, request(), Invocation{}); resp.Status != hostabi.StatusSucceeded {
		t.Errorf("response %+v; want Succeeded", resp)
	}
}

// The same code with other custom sections (a manifest embedded by
// tkn-wasm push, a producers section) prepares to the same bytes, so
// wazero compiles it and keeps its machine code once, though the two
// modules' digests differ.
func TestCustomSectionsDoNotSplitTheCompiledCode(t *testing.T) {
	plain := wat(t, "ok")
	embedded, err := wasmmodule.SetCustomSection(plain, "tekton-wasm.manifest", []byte(`{"name":"ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	if embedded, err = wasmmodule.SetCustomSection(embedded, "producers", []byte{0}); err != nil {
		t.Fatal(err)
	}
	a, err := prepare(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := prepare(embedded)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.wasm, b.wasm) {
		t.Fatalf("the module with custom sections prepares to %d bytes, without to %d: not the same", len(b.wasm), len(a.wasm))
	}

	dir := t.TempDir()
	e := newEngine(t, Config{CacheDir: dir})
	p1, p2 := mustCompile(t, e, plain, Limits{}), mustCompile(t, e, embedded, Limits{})
	if p1.Digest() == p2.Digest() {
		t.Fatal("the two modules have one digest")
	}
	compiled, err := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(compiled) != 1 {
		t.Errorf("wazero's cache holds %d compiled modules for one code: %v", len(compiled), compiled)
	}

	// The engine holds the code once too: one wazero module, decoded and
	// validated once, used by both digests, and closed with the last.
	if p1.c.code != p2.c.code {
		t.Error("the two digests of one code have a compiled module each")
	}
	other := mustCompile(t, e, embedded, Limits{MemoryBytes: 2 << 20})
	if other.c.code == p2.c.code {
		t.Error("the code under another memory limit is shared with the default limit's")
	}
	other.Close(context.Background())
	p1.Close(context.Background())
	if resp := invoke(t, p2, request(), Invocation{}); resp.Status != hostabi.StatusSucceeded {
		t.Errorf("after the other digest's handle was closed: response %+v; want Succeeded", resp)
	}
	p2.Close(context.Background())
	e.mu.Lock()
	n := len(e.codes)
	e.mu.Unlock()
	if n != 0 {
		t.Errorf("the engine holds %d codes after every handle was closed; want none", n)
	}
}

// codeSum hashes what the prepared-module cache stores.
func TestCodeSum(t *testing.T) {
	pm, err := prepare(guestPlugin(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if codeSum(pm) != sha256.Sum256(encodePrepared(pm)) {
		t.Error("codeSum is not the sha256 of the cache entry")
	}
}
