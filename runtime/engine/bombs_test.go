package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/alloctest"
)

// Modules that try to make the host allocate or compute far beyond a
// plugin's limits: each must end in a clear error or a failed call, with
// the host's allocations bounded.

// hostileBound is what a hostile module may make the host allocate in one
// compile or call, beyond its linear memory: generous for the tables,
// stack and bookkeeping the engine allows, far below what the bombs cost
// without the caps (hundreds of MiB to many GiB).
const hostileBound = 48 << 20

func TestTableGrowBeyondTheCapFails(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), demoWAT(t, "table_bomb"), Limits{})
	var resp *hostabi.Response
	n := alloctest.Bytes(func() { resp = invoke(t, p, request(), Invocation{}) })
	wantFailed(t, resp, hostabi.ReasonTrapped, "the plugin trapped: wasm error: unreachable")
	if n > hostileBound {
		t.Errorf("the call allocated %d MiB", n>>20)
	}
}

func TestTableGrowAndFillIsBounded(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "table_fill"), Limits{})
	var resp *hostabi.Response
	n := alloctest.Bytes(func() { resp = invoke(t, p, request(), Invocation{}) })
	wantFailed(t, resp, hostabi.ReasonTrapped, "the plugin trapped: wasm error: unreachable")
	if n > hostileBound {
		t.Errorf("the call allocated %d MiB", n>>20)
	}
}

func TestUnboundedRecursionOverflowsTheStack(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "recurse"), Limits{})
	var resp *hostabi.Response
	n := alloctest.Bytes(func() { resp = invoke(t, p, request(), Invocation{}) })
	wantFailed(t, resp, hostabi.ReasonTrapped, "the plugin trapped: stack overflow: its calls nested deeper than the host allows (100000)")
	t.Logf("the call allocated %d KiB", n>>10)
	if n > hostileBound {
		t.Errorf("the call allocated %d MiB", n>>20)
	}
}

// wasmModule assembles a module from sections, each an id and contents.
func wasmModule(sections ...[]byte) []byte {
	return append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Join(sections, nil)...)
}

func section(id byte, parts ...[]byte) []byte {
	return appendSection(nil, id, bytes.Join(parts, nil))
}

func uleb(v uint32) []byte { return appendUleb(nil, v) }

// emptyFuncType is the type section of one type, () -> ().
var emptyFuncType = section(sectionType, uleb(1), []byte{funcTypeForm, 0, 0})

func TestCompileRefusesBombs(t *testing.T) {
	const manyFuncs = 4_000_000
	const manySegments = 13_000_000
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"4M functions", wasmModule(emptyFuncType,
			section(sectionFunction, uleb(manyFuncs), make([]byte, manyFuncs)),
			section(sectionCode, uleb(manyFuncs), bytes.Repeat([]byte{2, 0, opEnd}, manyFuncs))),
			"the plugin module is refused: the module declares 4000000 functions; the host accepts at most 100000"},
		{"13M data segments", wasmModule(
			section(sectionData, uleb(manySegments), bytes.Repeat([]byte{1, 0}, manySegments))),
			"the plugin module is refused: the module declares 13000000 data segments; the host accepts at most 250000"},
		{"60M claimed data segments", wasmModule(
			section(sectionData, uleb(60_000_000), []byte{1, 0})),
			"the plugin module is refused: the module declares 60000000 data segments; the host accepts at most 250000"},
		{"4G locals", wasmModule(emptyFuncType, section(sectionFunction, uleb(1), []byte{0}),
			section(sectionCode, uleb(1), []byte{8, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, valueTypeI32, opEnd})),
			"the plugin module is refused: the module declares 4294967295 locals in one function; the host accepts at most 50000"},
		{"4G results in a type", wasmModule(section(sectionType, uleb(1), []byte{funcTypeForm, 0}, uleb(1<<32-1))),
			"the plugin module is refused: the module declares 4294967295 results in a function type; the host accepts at most 1000"},
		{"4G elements", wasmModule(section(sectionElement, uleb(1), []byte{1, 0}, uleb(1<<32-1), []byte{0})),
			"the plugin module is refused: the module declares 4294967295 elements in a segment; the host accepts at most 262144"},
		{"4 GiB data segment", wasmModule(section(sectionData, uleb(1), []byte{1}, uleb(1<<32-1))),
			"the plugin module does not compile: the module is malformed: data section: at byte 17: 4294967295 bytes claimed, 0 left"},
		{"4G function names", wasmModule(section(sectionCustom, []byte{4}, []byte("name"), []byte{1, 5}, uleb(1<<32-1))),
			"the plugin module is refused: the module declares 4294967295 function names; the host accepts at most 0"},
		{"many custom sections", wasmModule(bytes.Repeat(section(sectionCustom, []byte{1, 'x'}), MaxCustomSections+1)),
			"the plugin module is refused: the module declares 101 custom sections; the host accepts at most 100"},
		// Indices past the module's functions and globals would name the
		// bodies and the call-depth counter of the rewritten module.
		{"call past the functions", wasmModule(emptyFuncType, section(sectionFunction, uleb(1), []byte{0}),
			section(sectionCode, uleb(1), []byte{4, 0, opCall, 1, opEnd})),
			"the plugin module does not compile: the module is malformed: code section: at byte 25: function 1 is not declared"},
		{"global past the globals", wasmModule(emptyFuncType, section(sectionFunction, uleb(1), []byte{0}),
			section(sectionCode, uleb(1), []byte{6, 0, opI32Const, 0, opGlobalSet, 0, opEnd})),
			"the plugin module does not compile: the module is malformed: code section: at byte 27: global 0 is not declared"},
		{"element past the functions", wasmModule(emptyFuncType, section(sectionFunction, uleb(1), []byte{0}),
			section(sectionElement, uleb(1), []byte{1, 0, 1, 1}),
			section(sectionCode, uleb(1), []byte{2, 0, opEnd})),
			"the plugin module does not compile: the module is malformed: element section: at byte 25: function 1 is not declared"},
		{"huge declared table", wat(t, "table_big"),
			"the plugin module is refused: the module declares 117440512 entries in a table (its minimum size); the host accepts at most 262144"},
		{"imported table", watModule(t, `(module (import "wasi_snapshot_preview1" "t" (table 1 funcref)) (func (export "_start")))`),
			`the plugin module is refused: the module imports table "wasi_snapshot_preview1"."t"; the host provides only WASI functions`},
		{"imported global", watModule(t, `(module (import "wasi_snapshot_preview1" "g" (global i32)) (func (export "_start")))`),
			`the plugin module is refused: the module imports global "wasi_snapshot_preview1"."g"; the host provides only WASI functions`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := alloctest.Bytes(func() {
				var p *CompiledPlugin
				if p, err = sharedEngine(t).Compile(context.Background(), tc.wasm, Limits{}); err == nil {
					p.Close(context.Background())
				}
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile: %v\nwant an error containing %q", err, tc.want)
			}
			if n > hostileBound {
				t.Errorf("Compile allocated %d MiB", n>>20)
			}
		})
	}
}

// A panic while preparing or compiling a module is an error for that
// module; the engine keeps working.
func TestPanicInCompileIsAnError(t *testing.T) {
	orig := prepare
	t.Cleanup(func() { prepare = orig })
	prepare = func([]byte) (*preparedModule, error) { panic("boom") }
	// A cache of its own: from the tests' cache, the prepared module would
	// be read rather than prepared.
	e := newEngine(t, Config{CacheDir: t.TempDir()})
	_, err := e.Compile(context.Background(), wat(t, "ok"), Limits{})
	want := "the host failed while loading the plugin module (boom); this is a bug in tekton-wasm or wazero"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Compile: %v\nwant an error starting %q", err, want)
	}
	prepare = orig
	p := mustCompile(t, e, wat(t, "ok"), Limits{})
	results(t, invoke(t, p, request(), Invocation{}))
}
