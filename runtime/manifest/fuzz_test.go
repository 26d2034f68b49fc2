package manifest

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	corev1 "k8s.io/api/core/v1"

	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// seedManifests are the repo's plugins' manifests and some hostile ones.
func seedManifests(f *testing.F) []string {
	paths, _ := filepath.Glob("../../plugins/*/plugin.yaml")
	if len(paths) == 0 {
		f.Fatal("no plugins/*/plugin.yaml to seed from")
	}
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, string(b))
	}
	return append(out,
		"name: x\napiVersion: a/v1\nkind: K\nmodule: x.wasm\nlimits: {memory: 10E, timeout: -1s, concurrency: -1}\n",
		"name: x\napiVersion: a/v1\nkind: K\nmodule: ../x.wasm\nsha256: zz\nlimits: {memory: 100m}\n",
		"name: &a [*a]\n", "{", "- a\n- b\n")
}

// seedModules are a module stored raw, gzip and zstd, and a zstd frame
// of zeros claiming more than wasmmodule.MaxBytes.
func seedModules() [][]byte {
	mod := module(256, true)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(mod)
	zw.Close()
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	defer enc.Close()
	return [][]byte{mod, gz.Bytes(), enc.EncodeAll(mod, nil), enc.EncodeAll(make([]byte, wasmmodule.MaxBytes+1), nil), []byte("\x1f\x8b"), []byte("\x28\xb5\x2f\xfd")}
}

// FuzzFromConfigMap: no ConfigMap panics the controller's loader, and a
// module it returns is WebAssembly within wasmmodule.MaxBytes, from a valid
// manifest.
func FuzzFromConfigMap(f *testing.F) {
	mods := seedModules()
	for i, m := range seedManifests(f) {
		f.Add(m, mods[i%len(mods)])
	}
	f.Fuzz(func(t *testing.T, manifest string, stored []byte) {
		cm := &corev1.ConfigMap{Data: map[string]string{ManifestKey: manifest}}
		// Without binaryData the module is missing: this only tells the
		// key to store it under.
		p, _, err := FromConfigMap(cm)
		if err == nil {
			t.Fatal("a ConfigMap without binaryData was accepted")
		}
		if p == nil {
			return
		}
		cm.BinaryData = map[string][]byte{p.Module: stored}
		p, mod, err := FromConfigMap(cm)
		if err != nil {
			return
		}
		if p.Validate() != nil || !wasmmodule.IsWasm(mod) || len(mod) > wasmmodule.MaxBytes {
			t.Fatalf("accepted an invalid plugin: %+v, module of %d bytes", p, len(mod))
		}
	})
}

// FuzzDecode: decompression of any stored module stops at wasmmodule.MaxBytes.
func FuzzDecode(f *testing.F) {
	for _, m := range seedModules() {
		f.Add(m)
	}
	p := &Manifest{Name: "p", Module: "p.wasm"}
	f.Fuzz(func(t *testing.T, stored []byte) {
		mod, err := p.Decode(stored)
		if err == nil && (!wasmmodule.IsWasm(mod) || len(mod) > wasmmodule.MaxBytes) {
			t.Fatalf("accepted a module of %d bytes", len(mod))
		}
	})
}

// FuzzIndex: no index.yaml panics the local runner, and an accepted one
// has valid manifests, one per kind, with module paths inside the
// directory.
func FuzzIndex(f *testing.F) {
	for _, m := range seedManifests(f) {
		f.Add("plugins:\n- " + string(bytes.ReplaceAll([]byte(m), []byte("\n"), []byte("\n  "))))
	}
	f.Add("plugins:\n- {name: a, apiVersion: a/v1, kind: K, module: a.wasm}\n- {name: b, apiVersion: a/v1, kind: K, module: b.wasm}\n")
	f.Add("plugins: null\n")
	f.Fuzz(func(t *testing.T, index string) {
		idx, err := decodeIndex("index.yaml", []byte(index))
		if err != nil {
			return
		}
		seen := map[[2]string]bool{}
		for _, p := range idx.Plugins {
			key := [2]string{p.APIVersion, p.Kind}
			if p.Validate() != nil || !filepath.IsLocal(p.Module) || seen[key] {
				t.Fatalf("accepted %+v", p)
			}
			seen[key] = true
		}
	})
}
