package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Description is what a module declares, as the engine reads it: how it
// would run the module and what the module asks of the host.
type Description struct {
	// Kind is "command" or "reactor" (hostabi/README.md); empty when the
	// engine would refuse the module, and Refused says why.
	Kind    string
	Refused string
	// Imports are the module's imports in its order: what it asks of
	// the host (WASI functions, host capabilities of hostabi.ImportModule).
	Imports []Import
	// Exports are the names of its exported functions, sorted.
	Exports []string
	// Memory is its memory (exported or imported), nil if it has none
	// the host can see.
	Memory *MemoryLimits
}

// Import is one import: Type is "func (i32, i32) -> (i32)" or "memory".
type Import struct {
	Module string `json:"module"`
	Name   string `json:"name"`
	Type   string `json:"type"`
}

// MemoryLimits are a memory's declared limits, in pages of
// wasmmodule.PageSize; a plugin's memory limit (limits.memory) must be
// at least Min pages, and is lowered to Max if declared.
type MemoryLimits struct {
	Min    uint32
	Max    uint32 // when HasMax
	HasMax bool
}

// Describe admits wasm as Compile does (the same caps and errors) and
// reads its declarations with wazero's decoder, compiling it for wazero's
// interpreter only, without a memory limit or the compilation cache. A
// module Compile would refuse for what it imports or exports is described
// with Refused set; a module that is malformed or over a cap is an error.
func Describe(ctx context.Context, wasm []byte) (d *Description, err error) {
	if _, err := scanModule(wasm); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("the host failed while reading the module (%v); this is a bug in tekton-wasm or wazero: please report it with the module", p)
		}
	}()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil, fmt.Errorf("engine: instantiate WASI: %w", err)
	}
	capabilities, err := instantiateCapabilities(ctx, rt)
	if err != nil {
		return nil, err
	}
	m, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("the module does not compile: %v", err)
	}
	d = &Description{}
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		d.Imports = append(d.Imports, Import{Module: mod, Name: name, Type: "func " + signature(f)})
	}
	mems := m.ImportedMemories()
	for _, mem := range mems {
		mod, name, _ := mem.Import()
		d.Imports = append(d.Imports, Import{Module: mod, Name: name, Type: "memory"})
	}
	for _, mem := range m.ExportedMemories() {
		mems = append(mems, mem)
	}
	if len(mems) > 0 {
		d.Memory = &MemoryLimits{Min: mems[0].Min()}
		if max, ok := mems[0].Max(); ok {
			d.Memory.Max, d.Memory.HasMax = max, true
		}
	}
	for name := range m.ExportedFunctions() {
		d.Exports = append(d.Exports, name)
	}
	slices.Sort(d.Exports)
	wasi := rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions()
	if kind, err := checkModule(m, wasi, capabilities); err != nil {
		d.Refused = err.Error()
	} else {
		d.Kind = kind.String()
	}
	return d, nil
}

// String is the kind's name in hostabi/README.md.
func (k moduleKind) String() string {
	switch k {
	case kindCommand:
		return "command"
	case kindReactor:
		return "reactor"
	}
	return "unknown"
}
