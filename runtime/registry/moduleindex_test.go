package registry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// countDecodes counts the modules the registry decodes until the test ends.
func countDecodes(t *testing.T) *int {
	orig := decodeModule
	t.Cleanup(func() { decodeModule = orig })
	n := new(int)
	decodeModule = func(p *manifest.Manifest, stored []byte) ([]byte, error) {
		*n++
		return orig(p, stored)
	}
	return n
}

// TestModuleIndex checks that a restarted registry, with the module index
// and the engine's cache of the process before, loads a ConfigMap's
// module without decoding it; and that it decodes it again when the
// index entry is damaged or the engine's cache lacks the module, when the
// manifest's pin contradicts the indexed digest, and for other stored
// bytes.
func TestModuleIndex(t *testing.T) {
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	digest := wasmmodule.Digest(answer)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := enc.EncodeAll(answer, nil)
	dir := t.TempDir()
	engineDir, indexDir := filepath.Join(dir, "engine"), filepath.Join(dir, "index")
	decodes := countDecodes(t)
	restart := func(engineDir string, cm func() []byte) *world {
		t.Helper()
		w := startWith(t, Options{Engine: newEngine(t, engineDir), ModuleIndexDir: indexDir}, configMap("wait", waitYAML, cm()))
		w.changed(waitKind)
		return w
	}
	ours := func() []byte { return stored }
	expect := func(what string, want int) {
		t.Helper()
		if *decodes != want {
			t.Errorf("%s: %d modules decoded in all, want %d", what, *decodes, want)
		}
	}

	restart(engineDir, ours).healthy(waitKind, digest)
	expect("first load", 1)
	w := restart(engineDir, ours)
	w.healthy(waitKind, digest)
	expect("restart", 1)
	w.eventLike("Normal "+EventLoaded+" ", digest)

	entries, err := os.ReadDir(indexDir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("the index holds %d entries (%v), want 1", len(entries), err)
	}
	entry := filepath.Join(indexDir, entries[0].Name())
	if err := os.Truncate(entry, 10); err != nil {
		t.Fatal(err)
	}
	restart(engineDir, ours).healthy(waitKind, digest)
	expect("a truncated index entry", 2)
	restart(engineDir, ours).healthy(waitKind, digest)
	expect("the entry written again", 2)

	restart(filepath.Join(dir, "other-engine"), ours).healthy(waitKind, digest)
	expect("an engine without the module", 3)

	// The same stored bytes under a pin of another module: the pin wins.
	w = startWith(t, Options{Engine: newEngine(t, engineDir), ModuleIndexDir: indexDir},
		configMap("wait", waitYAML+"sha256: "+wasmmodule.Digest(stored)+"\n", stored))
	w.changed(waitKind)
	w.broken(waitKind, EventInvalid, "but the manifest pins "+wasmmodule.Digest(stored))
	expect("a contradicting pin", 4)

	// Other stored bytes (the module raw): another entry.
	restart(engineDir, func() []byte { return answer }).healthy(waitKind, digest)
	expect("the module stored otherwise", 5)
}

// TestModuleIndexOCI checks that a restarted registry loads a module it
// pulled before from the index and the engine's cache, without the
// module cache or the registry, but still reads the pull secrets.
func TestModuleIndexOCI(t *testing.T) {
	reg := newOCIRegistry(t, false)
	ref, digest := reg.push(t, "wait", "testdata/answer.wat")
	dir := t.TempDir()
	engineDir, moduleDir := filepath.Join(dir, "engine"), filepath.Join(dir, "modules")
	opts := func() Options {
		return Options{Engine: newEngine(t, engineDir), ModuleCacheDir: moduleDir, ModuleIndexDir: filepath.Join(dir, "index")}
	}
	w := startWith(t, opts(), ociConfigMap("wait", "Wait", "oci://"+ref.String()))
	w.changed(waitKind)
	w.healthy(waitKind, digest)

	reg.stop()
	if err := os.RemoveAll(moduleDir); err != nil {
		t.Fatal(err)
	}
	w = startWith(t, opts(), ociConfigMap("wait", "Wait", "oci://"+ref.String()))
	w.changed(waitKind)
	w.healthy(waitKind, digest)

	// A pull secret that does not exist fails the load as before.
	w = startWith(t, opts(), ociConfigMap("wait", "Wait", "oci://"+ref.String(), "missing"))
	w.changed(waitKind)
	w.broken(waitKind, EventPullFailed, "Secret "+ns+"/missing does not exist")
}
