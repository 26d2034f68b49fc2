package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
)

// The fuzz targets of the module rewriter and its admission, seeded with
// the engine's test modules, the hostile demo modules, the C plugin and
// the bombs of bombs_test.go.
// Go plugins are left out of the seeds: at megabytes each, they would
// make every execution slow.

func fuzzSeeds(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.wat"))
	if err != nil {
		f.Fatal(err)
	}
	demos, err := filepath.Glob(filepath.Join(hostileDemo, "*.wat"))
	if err != nil {
		f.Fatal(err)
	}
	paths = append(paths, demos...)
	for _, p := range paths {
		f.Add(wasmtest.WAT(f, p))
	}
	f.Add(wasmtest.CPlugin(f, filepath.Join("..", "..", "plugins", "semver")))
	f.Add(wasmModule(emptyFuncType, section(sectionFunction, uleb(3), []byte{0, 0, 0}),
		section(sectionCode, uleb(3), bytes.Repeat([]byte{2, 0, opEnd}, 3))))
	f.Add(wasmModule(section(sectionData, uleb(60_000_000), []byte{1, 0})))
	f.Add(wasmModule(section(sectionCustom, []byte{4}, []byte("name"), []byte{1, 5}, uleb(1<<32-1))))
	path := filepath.Join(f.TempDir(), "segments.wat")
	if err := os.WriteFile(path, []byte(segmentsModule(manySegments()...)), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Add(wasmtest.WAT(f, path))
}

// validates reports whether wazero decodes and validates wasm, with the
// engine's features.
func validates(rt wazero.Runtime, wasm []byte) error {
	m, err := rt.CompileModule(context.Background(), wasm)
	if err == nil {
		m.Close(context.Background())
	}
	return err
}

// FuzzPrepareModule: admission and rewriting never panic, and the
// rewriting (tables bounded, call depth counted, data coalesced) of a
// module wazero accepts is accepted too. Only admitted modules reach
// wazero: on the others, its decoder may allocate whatever they claim
// (testdata/fuzz holds one that claims 4 billion results in a type,
// which admission refuses).
func FuzzPrepareModule(f *testing.F) {
	fuzzSeeds(f)
	rt := wazero.NewRuntimeWithConfig(context.Background(), wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { rt.Close(context.Background()) })
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := prepareModule(wasm)
		if err != nil || validates(rt, wasm) != nil {
			return
		}
		if err := validates(rt, out.wasm); err != nil {
			t.Fatalf("the module is valid, its rewriting is not: %v", err)
		}
	})
}

// FuzzCoalesceDataSegments: coalescing never panics, and a module that
// instantiates starts with the same memory once coalesced.
func FuzzCoalesceDataSegments(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		if _, err := scanModule(wasm); err != nil {
			return
		}
		out := coalesce(t, wasm)
		if out == nil {
			return
		}
		want, err := initialMemory(t, wasm)
		if err != nil {
			return
		}
		got, err := initialMemory(t, out)
		if err != nil {
			t.Fatalf("the module instantiates, its coalescing does not: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("the coalesced module starts with other memory")
		}
	})
}
