package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/internal/cachefile"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// TestPrewarm checks that a registry records the modules it has loaded,
// with their limits, once the ConfigMaps present at start are loaded;
// that Prewarm, in the next process, compiles them (the engine holds them
// with its on-disk caches gone); that the registry's load of a listed
// ConfigMap then uses the prewarmed module; that nothing is prewarmed
// once the list is in; and that a prewarmed module no
// longer listed is released once the start-up loads are done, and the
// loaded set written again without it.
func TestPrewarm(t *testing.T) {
	answer, http := wasmtest.WAT(t, "testdata/answer.wat"), wasmtest.WAT(t, "testdata/http.wat")
	answerDigest, httpDigest := wasmmodule.Digest(answer), wasmmodule.Digest(http)
	fetchYAML := "name: fetch\napiVersion: " + waitAPI + "\nkind: Fetch\nmodule: wait.wasm\ncapabilities: {http: {allow: [hooks.example.com]}}\nlimits: {memory: 32Mi}\n"
	dir := t.TempDir()
	engineDir, indexDir := filepath.Join(dir, "engine"), filepath.Join(dir, "index")

	w := startWith(t, Options{Engine: newEngine(t, engineDir), ModuleIndexDir: indexDir},
		configMap("wait", waitYAML, answer), configMap("fetch", fetchYAML, http))
	for range 2 { // in either order
		select {
		case <-w.changes:
		case <-time.After(30 * time.Second):
			t.Fatal("the two plugins were not loaded")
		}
	}
	w.settled()
	set := readLoadedSet(indexDir)
	want := map[string]engine.Limits{answerDigest: {}, httpDigest: {MemoryBytes: 32 << 20, Grants: engine.Grants{HTTP: true}}}
	if len(set) != len(want) {
		t.Fatalf("loaded set %+v; want the 2 modules loaded", set)
	}
	for _, m := range set {
		if l, ok := want[m.Digest]; !ok || m.limits() != l || m.Bytes <= 0 {
			t.Errorf("loaded set entry %+v; want limits %+v and the ConfigMap's size", m, want[m.Digest])
		}
	}

	// The next process: the loaded set prewarmed while the list is held.
	// Once the list is in, nothing more is compiled.
	decodes := countDecodes(t)
	eng := newEngine(t, engineDir)
	done := make(chan struct{})
	close(done)
	late := Prewarm(context.Background(), eng, indexDir, 2, done)
	late.workers.Wait()
	if digests, _ := late.end(); len(digests) != 0 {
		t.Errorf("prewarmed %v after the list was in; want nothing", digests)
	}
	listed := make(chan struct{})
	p := Prewarm(context.Background(), eng, indexDir, 2, listed)
	p.workers.Wait()
	if n := len(p.handles); n != 2 {
		t.Fatalf("%d modules prewarmed; want 2", n)
	}
	close(listed)
	// From here on the engine can compile them only from memory.
	if err := os.RemoveAll(engineDir); err != nil {
		t.Fatal(err)
	}
	held := func(digest string, l engine.Limits) bool {
		h, err := eng.CompileDigest(context.Background(), digest, l)
		if err == nil {
			_ = h.Close(context.Background())
			return true
		}
		if !errors.Is(err, engine.ErrNotCached) {
			t.Fatal(err)
		}
		return false
	}
	if !held(httpDigest, want[httpDigest]) {
		t.Fatal("the engine does not hold a prewarmed module")
	}

	// fetch was deleted while the controller was down.
	w = startWith(t, Options{Engine: eng, ModuleIndexDir: indexDir, Prewarmed: p}, configMap("wait", waitYAML, answer))
	w.changed(waitKind)
	w.settled()
	w.healthy(waitKind, answerDigest)
	if *decodes != 0 {
		t.Errorf("%d modules decoded after the restart; want none, the prewarmed module used", *decodes)
	}
	if held(httpDigest, want[httpDigest]) {
		t.Error("a prewarmed module no ConfigMap lists is still held after the start-up loads")
	}
	if set := readLoadedSet(indexDir); len(set) != 1 || set[0].Digest != answerDigest {
		t.Errorf("loaded set %+v after the restart; want only %s", set, answerDigest)
	}
}

// TestPrewarmIgnoresABadLoadedSet checks that a loaded set that is
// damaged, not JSON, or names modules the engine does not hold prewarms
// nothing and does not fail.
func TestPrewarmIgnoresABadLoadedSet(t *testing.T) {
	dir := t.TempDir()
	eng := newEngine(t, filepath.Join(dir, "engine"))
	unknown, err := json.Marshal([]loadedModule{{Digest: wasmmodule.Digest([]byte("not held")), Bytes: 1}, {Digest: "../../etc/passwd"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, contents := range map[string][]byte{"not JSON": []byte("{"), "unknown modules": unknown} {
		if err := cachefile.Write(dir, loadedSetEntry, contents); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		p := Prewarm(context.Background(), eng, dir, 2, stop)
		p.workers.Wait()
		if digests, _ := p.end(); len(digests) != 0 {
			t.Errorf("%s: prewarmed %v; want nothing", name, digests)
		}
		close(stop)
	}
}
