package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// Module admission.
//
// Before wazero decodes or compiles a module, scanModule reads its
// sections and refuses a module over any of the caps below. Each cap is
// far above what real plugins use (a Go plugin importing net/http has
// about 3,300 functions, 58,000 data segments, one table of 3,300 entries
// and 3.6 MB of code) and far below what would cost the host seconds of
// compilation or an allocation out of proportion with the module: without
// them, a module of a few kilobytes compressed declaring millions of
// functions, segments, locals or table entries stalls compilation for
// tens of seconds or kills the process out of memory.

// The caps on a module's structure. A module over one is refused at
// Compile with an error naming the cap and the module's figure.
const (
	// MaxFunctions caps the functions a module imports and defines.
	// Compilation costs time and memory per function, even empty.
	MaxFunctions = 100_000
	// MaxTypes caps the function types of a module.
	MaxTypes = 10_000
	// MaxParams caps the parameters, and the results, of a function type.
	MaxParams = 1_000
	// MaxImports caps the imports of a module (only WASI functions are
	// importable).
	MaxImports = 1_000
	// MaxExports caps the exports of a module.
	MaxExports = 10_000
	// MaxGlobals caps the globals of a module; each costs every instance
	// host memory.
	MaxGlobals = 10_000
	// MaxCodeBytes caps the code section: compilation time and memory
	// grow with it.
	MaxCodeBytes = 16 << 20
	// MaxFunctionBytes caps one function body: the compiler's work on a
	// function grows faster than its size.
	MaxFunctionBytes = 1 << 20
	// MaxFunctionLocals caps the locals one function declares.
	MaxFunctionLocals = 50_000
	// MaxLocals caps the locals all functions of a module declare
	// together: wazero keeps a byte per local and the compiler works per
	// local.
	MaxLocals = 2_000_000
	// MaxDataSegments caps the data segments of a module; each costs the
	// host a few dozen bytes while the module is loaded.
	MaxDataSegments = 250_000
	// MaxElementSegments caps the element segments of a module.
	MaxElementSegments = 10_000
	// MaxElements caps the entries of all element segments together;
	// wazero holds each as a constant expression of a few dozen bytes.
	MaxElements = MaxTableEntries
	// MaxTables caps the tables of a module.
	MaxTables = 4
	// MaxTableEntries caps the size of each table: a module declaring
	// more is refused, and a table's maximum is lowered to it, so
	// table.grow beyond it returns -1 instead of allocating. An entry
	// costs the host 8 bytes, so the tables of one instance cost at most
	// MaxTables × MaxTableEntries × 8 bytes (8 MiB).
	MaxTableEntries = 1 << 18
	// MaxCustomSections caps the custom sections of a module; wazero keeps
	// each one's name and contents while it decodes the module.
	MaxCustomSections = 100
)

// refusal is a module the host refuses though it may be well-formed: it
// is over a cap or needs something the host does not provide.
type refusal struct{ msg string }

func (e *refusal) Error() string { return e.msg }

func overCap(what string, got, limit uint64) *refusal {
	return &refusal{fmt.Sprintf("the module declares %d %s; the host accepts at most %d", got, what, limit)}
}

// moduleLayout is what the rewriters need to know about a module that
// scanModule admitted.
type moduleLayout struct {
	wasm     []byte
	sections []sectionRef // in the module's order, custom sections included

	typeParams    []uint32 // parameter count of each type
	importedFuncs uint32
	funcTypes     []uint32 // type index of each defined function
	funcLocals    []uint32 // declared locals of each defined function
	globals       uint32   // defined globals
	hasNames      bool     // the module has a name section
	tables        []tableLimits
	// mutableGlobals are the indices of the defined mutable globals,
	// which a snapshot saves and restores (snapshot.go).
	mutableGlobals []uint32
	// noSnapshot says why instances of the module cannot be made from a
	// snapshot; "" if they can.
	noSnapshot string
	// whether the module exports _start (a command) and _initialize
	exportsStart, exportsInitialize bool
}

// sectionRef is a section of the module: wasm[header:start] is its id
// and size, wasm[start:end] its contents.
type sectionRef struct {
	id                 byte
	header, start, end int
	name               string // of a custom section
}

type tableLimits struct {
	refType  byte
	min, max uint32
	hasMax   bool
}

// funcs is the number of functions the module imports and defines.
func (l *moduleLayout) funcs() uint32 { return l.importedFuncs + uint32(len(l.funcTypes)) }

func (l *moduleLayout) section(id byte) *sectionRef {
	for i := range l.sections {
		if l.sections[i].id == id && id != sectionCustom {
			return &l.sections[i]
		}
	}
	return nil
}

// scanModule reads wasm's structure and checks it against the caps. Its
// errors are meant for the plugin's author.
func scanModule(wasm []byte) (*moduleLayout, error) {
	if len(wasm) > wasmmodule.MaxBytes {
		return nil, &refusal{fmt.Sprintf("the module is %d bytes; the host accepts at most %s", len(wasm), formatBytes(wasmmodule.MaxBytes))}
	}
	if len(wasm) < 8 || string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, errors.New("the module is not WebAssembly 1.0 or 2.0 (wrong version)")
	}
	l := &moduleLayout{wasm: wasm}
	var last byte
	customs := 0
	for ws, err := range wasmmodule.Sections(wasm) {
		if err != nil {
			return nil, fmt.Errorf("the module is malformed: %v", err)
		}
		s := sectionRef{id: ws.ID, header: ws.Header, start: ws.Start, end: ws.End, name: ws.Name}
		switch id := s.id; {
		case id == sectionCustom:
			if customs++; customs > MaxCustomSections {
				return nil, overCap("custom sections", uint64(customs), MaxCustomSections)
			}
		case id > sectionDataCount:
			return nil, fmt.Errorf("the module is malformed: unknown section id %d", id)
		case sectionOrder(id) <= sectionOrder(last):
			return nil, fmt.Errorf("the module is malformed: the %s section is out of order or repeated", sectionNames[id])
		default:
			last = id
		}
		if s.id == sectionStart {
			l.refuseSnapshot("it has a start function, which runs when an instance is created")
		}
		l.sections = append(l.sections, s)
	}
	// The name section last: its counts are checked against the
	// functions'.
	var names *sectionRef
	for i, s := range l.sections {
		if s.id == sectionCustom && s.name == "name" {
			if names != nil {
				return nil, errors.New("the module is malformed: two name sections")
			}
			names = &l.sections[i]
			l.hasNames = true
		}
	}
	for _, s := range append(l.sections, sectionRef{id: 0xff}) {
		switch {
		case s.id == 0xff && names != nil:
			s = *names
		case s.id == sectionCustom || s.id == 0xff:
			continue
		}
		sr := &wasmReader{b: wasm[s.start:s.end], base: s.start}
		l.scanSection(s, sr)
		if sr.err == nil && sr.left() != 0 {
			sr.fail("%d bytes left at the end of the section", sr.left())
		}
		if sr.err != nil {
			if _, ok := sr.err.(*refusal); ok {
				return nil, sr.err
			}
			what := sectionNames[s.id]
			if s.id == sectionCustom {
				what = s.name + " custom"
			}
			return nil, fmt.Errorf("the module is malformed: %s section: %v", what, sr.err)
		}
	}
	if n := len(l.funcTypes); n != len(l.funcLocals) {
		return nil, fmt.Errorf("the module is malformed: %d functions but %d function bodies", n, len(l.funcLocals))
	}
	return l, nil
}

// sectionOrder is the rank of a section in a valid module: the data count
// section sits between the element and code sections.
func sectionOrder(id byte) int {
	switch id {
	case sectionDataCount:
		return int(sectionElement)*10 + 5
	}
	return int(id) * 10
}

func (l *moduleLayout) scanSection(s sectionRef, r *wasmReader) {
	switch s.id {
	case sectionCustom: // the name section
		l.scanNames(r)
	case sectionType:
		n := r.vec("function types", MaxTypes, 3)
		l.typeParams = make([]uint32, 0, n)
		for range n {
			if form := r.u8(); form != funcTypeForm && r.err == nil {
				r.fail("unsupported type form %#x", form)
			}
			params := r.vec("parameters in a function type", MaxParams, 1)
			r.bytes(params)
			r.bytes(r.vec("results in a function type", MaxParams, 1))
			l.typeParams = append(l.typeParams, params)
		}
	case sectionImport:
		n := r.vec("imports", MaxImports, 4)
		for range n {
			mod, name := r.name(), r.name()
			switch kind := r.u8(); kind {
			case 0:
				r.u32()
				l.importedFuncs++
			case 2:
				r.limits() // memory: the engine refuses it after compiling, with its own message
			case 1, 3:
				r.refuse(&refusal{fmt.Sprintf("the module imports %s %s.%s; the host provides only WASI functions",
					map[byte]string{1: "table", 3: "global"}[kind], printable(mod), printable(name))})
			default:
				r.fail("unsupported import kind %#x", kind)
			}
		}
	case sectionFunction:
		n := r.vec("functions", MaxFunctions, 1)
		if total := uint64(n) + uint64(l.importedFuncs); total > MaxFunctions {
			r.refuse(overCap("functions (with imports)", total, MaxFunctions))
		}
		l.funcTypes = make([]uint32, 0, n)
		for range n {
			t := r.u32()
			if r.err == nil && t >= uint32(len(l.typeParams)) {
				r.fail("function type %d is not declared", t)
			}
			l.funcTypes = append(l.funcTypes, t)
		}
	case sectionTable:
		n := r.vec("tables", MaxTables, 3)
		for range n {
			t := tableLimits{refType: r.u8()}
			if t.refType != refTypeFunc && t.refType != refTypeExtern {
				r.fail("unsupported table type %#x", t.refType)
			}
			t.min, t.max, t.hasMax = r.limits()
			if t.min > MaxTableEntries {
				r.refuse(overCap("entries in a table (its minimum size)", uint64(t.min), MaxTableEntries))
			}
			l.tables = append(l.tables, t)
		}
	case sectionGlobal:
		l.globals = r.vec("globals", MaxGlobals, 4)
		for i := range l.globals {
			typ, mutable := r.u8(), r.u8()
			if mutable == 1 {
				if !numericType(typ) {
					l.refuseSnapshot(fmt.Sprintf("its mutable global %d is a %s, which a snapshot does not save", i, valueTypeName(typ)))
				}
				l.mutableGlobals = append(l.mutableGlobals, i)
			}
			r.checkedConstExpr(l.funcs(), i)
		}
	case sectionExport:
		n := r.vec("exports", MaxExports, 3)
		for range n {
			name := r.name()
			kind, i := r.u8(), r.u32()
			if strings.HasPrefix(string(name), reservedExportPrefix) {
				r.refuse(&refusal{fmt.Sprintf("the module exports %s; names starting with %q are the host's", printable(name), reservedExportPrefix)})
			}
			if kind == 0 {
				l.exportsStart = l.exportsStart || string(name) == startExport
				l.exportsInitialize = l.exportsInitialize || string(name) == initializeExport
			}
			switch {
			case r.err != nil:
			case kind == 0 && i >= l.funcs():
				r.fail("function %d is not declared", i)
			case kind == exportKindGlobal && i >= l.globals:
				r.fail("global %d is not declared", i)
			}
		}
	case sectionElement:
		l.scanElements(r)
	case sectionCode:
		l.scanCode(r)
	case sectionData:
		n := r.vec("data segments", MaxDataSegments, 2)
		for range n {
			readDataSegment(r)
		}
	default: // memory, start, data count: fixed size, wazero reads them
		r.pos = len(r.b)
	}
}

func (l *moduleLayout) scanElements(r *wasmReader) {
	n := r.vec("element segments", MaxElementSegments, 3)
	var total uint32
	for range n {
		flags := r.u32()
		if flags > 7 {
			r.fail("unsupported element segment flags %d", flags)
			return
		}
		if flags&2 != 0 && flags&1 == 0 { // explicit table index
			r.u32()
		}
		if flags&1 == 0 { // active: offset
			r.checkedConstExpr(l.funcs(), l.globals)
		}
		if flags&3 != 0 { // element kind or reference type
			r.u8()
		}
		exprs := flags&4 != 0
		minSize := 1
		if exprs {
			minSize = 2
		}
		count := r.vec("elements in a segment", MaxElements-total, minSize)
		total += count
		for range count {
			if exprs {
				r.checkedConstExpr(l.funcs(), l.globals)
			} else if i := r.u32(); i >= l.funcs() && r.err == nil {
				r.fail("function %d is not declared", i)
			}
		}
	}
}

func (l *moduleLayout) scanCode(r *wasmReader) {
	if r.left() > MaxCodeBytes {
		r.refuse(overCap("bytes of code", uint64(r.left()), MaxCodeBytes))
		return
	}
	n := r.vec("function bodies", MaxFunctions, 2)
	l.funcLocals = make([]uint32, 0, n)
	var total uint64
	for range n {
		size := r.u32()
		if size > MaxFunctionBytes {
			r.refuse(overCap("bytes in one function body", uint64(size), MaxFunctionBytes))
		}
		body := &wasmReader{b: r.bytes(size), base: r.base + r.pos - int(size)}
		var locals uint64
		for range body.vec("local declarations in a function", MaxFunctionLocals, 2) {
			locals += uint64(body.u32())
			body.u8()
			if locals > MaxFunctionLocals {
				body.refuse(overCap("locals in one function", locals, MaxFunctionLocals))
			}
		}
		if body.err == nil && body.left() == 0 {
			body.fail("function body without code")
		}
		if op := checkCode(body, l.funcs(), l.globals); op != "" {
			l.refuseSnapshot("it uses " + op + ", whose effect a snapshot does not save")
		}
		if body.err != nil && r.err == nil {
			r.err = body.err
			r.pos = len(r.b)
		}
		total += locals
		if total > MaxLocals {
			r.refuse(overCap("locals in all functions", total, MaxLocals))
		}
		l.funcLocals = append(l.funcLocals, uint32(locals))
	}
}

// numericType reports whether a value type is i32, i64, f32 or f64.
func numericType(t byte) bool { return t >= 0x7c && t <= valueTypeI32 }

// valueTypeName names a value type that is not numeric.
func valueTypeName(t byte) string {
	switch t {
	case 0x7b:
		return "v128"
	case refTypeFunc:
		return "funcref"
	case refTypeExtern:
		return "externref"
	}
	return fmt.Sprintf("value of type %#x", t)
}

// refuseSnapshot records the first reason why instances of the module
// cannot be made from a snapshot.
func (l *moduleLayout) refuseSnapshot(why string) {
	if l.noSnapshot == "" {
		l.noSnapshot = why
	}
}

// scanNames checks the counts of the name section's function and local
// names, which wazero allocates for before reading them. Like wazero, it
// reads the known subsections whole and skips the others.
func (l *moduleLayout) scanNames(r *wasmReader) {
	r.name() // "name"
	funcs := l.importedFuncs + uint32(len(l.funcTypes))
	var locals uint32
	for r.left() > 0 && r.err == nil {
		id := r.u8()
		size := r.u32()
		switch id {
		case 0:
			r.name()
		case 1:
			for range r.vec("function names", funcs, 2) {
				r.u32()
				r.name()
			}
		case 2:
			for range r.vec("functions with local names", funcs, 2) {
				r.u32()
				n := r.vec("local names", MaxLocals-locals, 2)
				locals += n
				for range n {
					r.u32()
					r.name()
				}
			}
		default:
			r.bytes(size)
		}
	}
}

// printable quotes a name from the module for a message.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}
