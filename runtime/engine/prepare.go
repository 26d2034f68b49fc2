package engine

import (
	"strconv"

	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// Preparing a module for compilation.
//
// prepareModule admits a module (scanModule) and rewrites it so that no
// instance can make the host allocate beyond the plugin's limits plus a
// constant:
//
//   - Tables. Each table's maximum is lowered to MaxTableEntries, so
//     table.grow beyond it returns -1, as the spec says a failed grow
//     does, instead of making wazero allocate 8 bytes per entry.
//   - The call stack. wazero grows an instance's call stack, in host
//     memory, up to about 100 MB before it traps. Each function defined
//     by the module is given a wrapper at its index, which adds the
//     function's weight (frameWeight) to a call-depth counter in a new
//     global, traps with unreachable when the counter passes
//     MaxCallDepth, calls the function's body (moved to index+n, n being
//     the number of defined functions), subtracts the weight and returns
//     its results. Since the wrappers take the original indices, calls,
//     exports, element segments, the start function and ref.func all
//     reach them unchanged. The engine reports the trap as a stack
//     overflow (ReasonTrapped).
//   - Data segments are coalesced and, for a module whose instances can
//     be made from a snapshot, taken out of it (datasegments.go).
//   - Each mutable global the module defines is exported under a name of
//     the host's (snapshotGlobalExport), so that the engine can save and
//     restore it through wazero's API, which reaches only exported
//     globals (snapshot.go).
//
// The name section names each body as its wrapper, so that stack traces
// keep the functions' names and show each call once (see names). Every
// other custom section is dropped: the DWARF sections (.debug_*), whose
// code offsets the new layout breaks, and those that mean nothing to
// execution (the embedded manifest, producers, target features). So a
// module pushed with its manifest embedded and the same module packed
// into a ConfigMap without it prepare to the same bytes, which wazero
// compiles once and keeps once (its in-memory and on-disk caches are
// keyed by the bytes), though their digests differ.

// MaxCallDepth bounds the call depth of an instance: the sum of the
// weights (frameWeight) of the functions on its call stack. A call that
// passes it traps, which the engine reports as a stack overflow. With
// functions of a few locals, that is a depth of MaxCallDepth calls; the
// host memory of the stack is then a few dozen bytes per call.
const MaxCallDepth = 100_000

// frameWeight is what a call to a function with the given parameters and
// locals counts towards MaxCallDepth: one, plus one per 16 parameters and
// locals, since a frame holds its function's locals.
func frameWeight(params, locals uint32) uint32 {
	return 1 + (params+locals)/16
}

// preparedModule is a module as prepareModule rewrote it.
type preparedModule struct {
	wasm []byte
	// globals are the export names of the module's mutable globals, the
	// call-depth counter excepted (it is 0 between calls).
	globals []string
	// noSnapshot says why instances of the module cannot be made from a
	// snapshot (snapshot.go); "" if they can.
	noSnapshot string
	// data are the module's active data segments, coalesced, when they
	// were taken out of it: an instance that does not get a snapshot gets
	// them from the engine (writeData). nil if the module keeps its own.
	data []dataSegment
}

// prepareModule admits wasm and returns it rewritten as described above.
func prepareModule(wasm []byte) (*preparedModule, error) {
	l, err := scanModule(wasm)
	if err != nil {
		return nil, err
	}
	n := uint32(len(l.funcTypes))
	var data []dataSegment

	out := make([]byte, 0, len(wasm)+len(wasm)/8+64*int(n))
	out = append(out, wasm[:8]...)
	// The global and export sections get an entry each, and are created
	// where they belong if the module has none.
	added := map[byte]bool{}
	addMissing := func(before byte) {
		for _, id := range []byte{sectionGlobal, sectionExport} {
			if !added[id] && sectionOrder(id) < sectionOrder(before) {
				out = appendSection(out, id, withCounter(l, id, nil))
				added[id] = true
			}
		}
	}
	for _, s := range l.sections {
		contents := wasm[s.start:s.end]
		if s.id != sectionCustom {
			addMissing(s.id)
		}
		switch s.id {
		case sectionCustom:
			if s.name == "name" {
				out = appendSection(out, sectionCustom, wrapperNames(l, contents))
			}
		case sectionFunction:
			b := appendUleb(nil, 2*n)
			for range 2 {
				for _, t := range l.funcTypes {
					b = appendUleb(b, t)
				}
			}
			out = appendSection(out, sectionFunction, b)
		case sectionTable:
			out = appendSection(out, sectionTable, boundedTables(l))
		case sectionGlobal, sectionExport:
			out = appendSection(out, s.id, withCounter(l, s.id, contents))
			added[s.id] = true
		case sectionCode:
			_, k := wasmmodule.Uleb32(contents)
			b := appendUleb(make([]byte, 0, len(contents)+64*int(n)), 2*n)
			for i, t := range l.funcTypes {
				b = appendWrapper(b, l.typeParams[t], l.importedFuncs+n+uint32(i), l.globals, frameWeight(l.typeParams[t], l.funcLocals[i]))
			}
			out = appendSection(out, sectionCode, append(b, contents[k:]...))
		case sectionData:
			switch merged := coalescedData(l); {
			case merged == nil:
				out = append(out, wasm[s.header:s.end]...)
			case l.snapshotted():
				data = merged // the engine writes them (datasegments.go)
			default:
				out = appendSection(out, sectionData, encodeDataSegments(merged))
			}
		default:
			out = append(out, wasm[s.header:s.end]...)
		}
	}
	addMissing(0xff)
	if !l.hasNames {
		out = appendSection(out, sectionCustom, wrapperNames(l, nil))
	}
	pm := &preparedModule{wasm: out, data: data, noSnapshot: l.noSnapshot}
	for _, i := range l.mutableGlobals {
		pm.globals = append(pm.globals, snapshotGlobalExport(i))
	}
	return pm, nil
}

// reservedExportPrefix starts the names of the exports the host adds to
// a module (callDepthExport, snapshotGlobalExport); a module exporting
// such a name is refused.
const reservedExportPrefix = "tekton-wasm:"

// callDepthExport is the name under which a prepared module exports its
// call-depth counter, for the engine to tell a stack overflow from other
// traps.
const callDepthExport = reservedExportPrefix + "call-depth"

// snapshotGlobalExport is the name under which a prepared module exports
// its mutable global i.
func snapshotGlobalExport(i uint32) string {
	return reservedExportPrefix + "global:" + strconv.FormatUint(uint64(i), 10)
}

// withCounter returns the contents of the global (id sectionGlobal) or
// export section with the call-depth counter added: a mutable i32 global,
// 0, at index l.globals (the host refuses imported globals), and its
// export; the export section also gets an export of each mutable global
// (snapshotGlobalExport). contents is the module's section, nil if it has
// none.
func withCounter(l *moduleLayout, id byte, contents []byte) []byte {
	count, k := uint32(0), 0
	if contents != nil {
		count, k = wasmmodule.Uleb32(contents)
	}
	if id == sectionGlobal {
		b := append(appendUleb(nil, count+1), contents[k:]...)
		return append(b, valueTypeI32, 1, opI32Const, 0, opEnd)
	}
	b := append(appendUleb(nil, count+1+uint32(len(l.mutableGlobals))), contents[k:]...)
	appendExport := func(name string, global uint32) {
		b = appendUleb(b, uint32(len(name)))
		b = append(b, name...)
		b = append(b, exportKindGlobal)
		b = appendUleb(b, global)
	}
	appendExport(callDepthExport, l.globals)
	for _, i := range l.mutableGlobals {
		appendExport(snapshotGlobalExport(i), i)
	}
	return b
}

// appendWrapper appends the body of the wrapper of a function with params
// parameters whose body is now function body, counting weight towards
// MaxCallDepth in global depth.
func appendWrapper(b []byte, params, body, depth, weight uint32) []byte {
	var w []byte
	w = append(w, 0) // no locals
	add := func(op byte) {
		w = append(w, opGlobalGet)
		w = appendUleb(w, depth)
		w = append(w, opI32Const)
		w = appendSleb(w, int64(weight))
		w = append(w, op, opGlobalSet)
		w = appendUleb(w, depth)
	}
	add(opI32Add)
	w = append(w, opGlobalGet)
	w = appendUleb(w, depth)
	w = append(w, opI32Const)
	w = appendSleb(w, MaxCallDepth)
	w = append(w, opI32GtU, opIf, blockTypeEmpty, opUnreachable, opEnd)
	for i := range params {
		w = append(w, opLocalGet)
		w = appendUleb(w, i)
	}
	w = append(w, opCall)
	w = appendUleb(w, body)
	add(opI32Sub)
	w = append(w, opEnd)
	b = appendUleb(b, uint32(len(w)))
	return append(b, w...)
}

// boundedTables returns the table section with every table's maximum at
// most MaxTableEntries (scanModule refused larger minimums).
func boundedTables(l *moduleLayout) []byte {
	b := appendUleb(nil, uint32(len(l.tables)))
	for _, t := range l.tables {
		max := uint32(MaxTableEntries)
		if t.hasMax && t.max < max {
			max = t.max
		}
		b = append(b, t.refType, 1)
		b = appendUleb(b, t.min)
		b = appendUleb(b, max)
	}
	return b
}

// wrapperNames returns the contents of the name section (contents, nil if the
// module has none) with each body named as its wrapper, so that both
// frames of a call read the same in a stack trace and the engine can
// show them as one (foldWrapperFrames); an unnamed function is named as
// wazero shows it, $ and its index. The subsections indexed by function
// that the move breaks (local and label names) are dropped.
func wrapperNames(l *moduleLayout, contents []byte) []byte {
	n := uint32(len(l.funcTypes))
	defined := make([][]byte, n)
	r := &wasmReader{b: contents}
	r.name()
	b := appendUleb(nil, 4)
	b = append(b, "name"...)
	var moduleName, rest, entries []byte
	count := uint32(0)
	for r.left() > 0 && r.err == nil {
		start := r.pos
		id := r.u8()
		sub := &wasmReader{b: r.bytes(r.u32())}
		switch id {
		case 1:
			for range sub.u32() {
				idx, name := sub.u32(), sub.name()
				switch {
				case sub.err != nil:
				case idx < l.importedFuncs:
					entries = appendName(entries, idx, name)
					count++
				case idx < l.importedFuncs+n:
					defined[idx-l.importedFuncs] = name
				}
			}
		case 0:
			moduleName = contents[start:r.pos]
		case 2, 3:
		default:
			rest = append(rest, contents[start:r.pos]...)
		}
	}
	// In ascending order of index, as wazero reads them: the wrappers,
	// then the bodies.
	for i, name := range defined {
		if name == nil {
			defined[i] = []byte("$" + strconv.FormatUint(uint64(l.importedFuncs)+uint64(i), 10))
		}
	}
	for _, offset := range []uint32{l.importedFuncs, l.importedFuncs + n} {
		for i, name := range defined {
			entries = appendName(entries, offset+uint32(i), name)
			count++
		}
	}
	sub := append(appendUleb(nil, count), entries...)
	b = append(b, moduleName...)
	b = append(b, 1)
	b = appendUleb(b, uint32(len(sub)))
	b = append(b, sub...)
	return append(b, rest...)
}

func appendName(b []byte, idx uint32, name []byte) []byte {
	b = appendUleb(b, idx)
	b = appendUleb(b, uint32(len(name)))
	return append(b, name...)
}
