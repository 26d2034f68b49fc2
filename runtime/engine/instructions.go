package engine

import "cmp"

// Checking the indices in a module's code.
//
// The rewriting of prepareModule moves each function's body to a new
// index and adds a global: indices that were out of range in the module
// as shipped, and made it invalid, would name them in the rewritten one,
// letting a hostile module call the bodies without their wrappers (and
// so without counting its call depth) or reset the counter. So every
// instruction is read, and the function and global indices it names are
// checked against the module as shipped. Instructions are those of
// wazero's default features (WebAssembly 2.0: reference types, bulk
// memory, SIMD, ...); any other is refused, as wazero would refuse it.

// checkCode reads the instructions of a function body (after its
// locals) and checks that every function index is below funcs and every
// global index below globals. It returns the name of the first
// instruction whose effect a snapshot does not save (unrestorable), or "".
func checkCode(r *wasmReader, funcs, globals uint32) (unrestorable string) {
	funcIndex := func() {
		if i := r.u32(); i >= funcs && r.err == nil {
			r.fail("function %d is not declared", i)
		}
	}
	globalIndex := func() {
		if i := r.u32(); i >= globals && r.err == nil {
			r.fail("global %d is not declared", i)
		}
	}
	memarg := func() { r.u32(); r.u32() }
	for r.left() > 0 && r.err == nil {
		switch op := r.u8(); {
		case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
			blockType(r)
		case op == 0x0c || op == 0x0d: // br, br_if
			r.u32()
		case op == 0x0e: // br_table
			for range r.vec("branch targets", 1<<32-1, 1) {
				r.u32()
			}
			r.u32()
		case op == opCall:
			funcIndex()
		case op == 0x11: // call_indirect
			r.u32()
			r.u32()
		case op == 0x1c: // select t
			r.bytes(r.vec("select types", 1<<32-1, 1))
		case op == 0x20 || op == 0x21 || op == 0x22 || op == 0x25: // locals, table.get
			r.u32()
		case op == 0x26:
			r.u32()
			unrestorable = cmp.Or(unrestorable, "table.set")
		case op == opGlobalGet || op == opGlobalSet:
			globalIndex()
		case op >= 0x28 && op <= 0x3e: // loads and stores
			memarg()
		case op == 0x3f || op == 0x40: // memory.size, memory.grow
			r.u8()
		case op == opI32Const:
			r.s32()
		case op == opI64Const:
			r.s64()
		case op == opF32Const:
			r.bytes(4)
		case op == opF64Const:
			r.bytes(8)
		case op == opRefNull:
			r.u8()
		case op == opRefFunc:
			funcIndex()
		case op == 0xfc:
			unrestorable = cmp.Or(unrestorable, miscInstruction(r))
		case op == opVectorPrefix:
			switch sub := r.u32(); {
			case sub <= 0x0b || sub == 0x5c || sub == 0x5d: // loads and stores
				memarg()
			case sub >= 0x54 && sub <= 0x5b: // lane loads and stores
				memarg()
				r.u8()
			case sub == 0x0c || sub == 0x0d: // v128.const, i8x16.shuffle
				r.bytes(16)
			case sub >= 0x15 && sub <= 0x22: // extract and replace lane
				r.u8()
			}
		case op <= 0x01 || op == 0x05 || op == opEnd || op == 0x0f || op == 0x1a || op == 0x1b || // control, drop, select
			(op >= 0x45 && op <= 0xc4) || op == 0xd1: // numeric, ref.is_null
		default:
			r.fail("unsupported instruction %#x", op)
		}
	}
	return unrestorable
}

// blockType skips a block type: empty, a value type, or a type index
// (a signed 33-bit number).
func blockType(r *wasmReader) {
	if r.left() > 0 {
		switch r.b[r.pos] {
		case blockTypeEmpty, valueTypeI32, 0x7e, 0x7d, 0x7c, 0x7b, refTypeFunc, refTypeExtern:
			r.pos++
			return
		}
	}
	r.s64()
}

// miscInstruction skips the immediates of a 0xfc-prefixed instruction.
// It returns the instruction's name if it changes the instance's tables or
// segments, which a snapshot does not save (its memory and globals), or
// "".
func miscInstruction(r *wasmReader) (unrestorable string) {
	switch sub := r.u32(); {
	case sub <= 7: // saturating truncation
	case sub == 8: // memory.init
		r.u32()
		r.u8()
	case sub == 16: // table.size
		r.u32()
	case sub == 9 || sub == 13 || sub == 15 || sub == 17: // data.drop, elem.drop, table.grow, table.fill
		r.u32()
		return tableAndSegmentOps[sub]
	case sub == 10: // memory.copy
		r.u8()
		r.u8()
	case sub == 11: // memory.fill
		r.u8()
	case sub == 12 || sub == 14: // table.init, table.copy
		r.u32()
		r.u32()
		return tableAndSegmentOps[sub]
	default:
		r.fail("unsupported instruction 0xfc %d", sub)
	}
	return ""
}

// tableAndSegmentOps names the 0xfc-prefixed instructions that change an
// instance's tables or drop its segments.
var tableAndSegmentOps = map[uint32]string{
	9: "data.drop", 12: "table.init", 13: "elem.drop", 14: "table.copy", 15: "table.grow", 17: "table.fill",
}
