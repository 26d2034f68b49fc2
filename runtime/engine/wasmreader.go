package engine

import (
	"encoding/binary"
	"fmt"

	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// Reading a module's binary before wazero does.
//
// wazero's decoder allocates in proportion to the counts and sizes a
// module claims before it checks that the bytes are there (a vector of
// 4 billion locals, an element vector of 4 billion entries, a data
// segment of 4 GiB): each is a fatal out-of-memory of the whole process.
// So every module is first read by this small reader, which checks each
// count against the bytes left and against the host's caps (admit.go)
// before anything is allocated for it, and which the rewriters
// (datasegments.go, instrument.go) share.

// wasmReader reads a bounded slice of a module. Reading past the end, or
// any malformed number, records the first error and makes every later
// read return zero; callers check err once they are done.
type wasmReader struct {
	b   []byte
	pos int
	err error
	// base is the offset of b in the module, for error messages.
	base int
}

func (r *wasmReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.base+r.pos, fmt.Sprintf(format, args...))
	}
	r.pos = len(r.b)
}

// refuse records err, unless an error is recorded already.
func (r *wasmReader) refuse(err error) {
	if r.err == nil {
		r.err = err
	}
	r.pos = len(r.b)
}

func (r *wasmReader) left() int { return len(r.b) - r.pos }

func (r *wasmReader) u8() byte {
	if r.left() < 1 {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *wasmReader) u32() uint32 {
	v, n := wasmmodule.Uleb32(r.b[r.pos:])
	if n == 0 {
		r.fail("malformed unsigned number")
		return 0
	}
	r.pos += n
	return v
}

func (r *wasmReader) s32() int32 {
	v, n := sleb32(r.b[r.pos:])
	if n == 0 {
		r.fail("malformed signed number")
		return 0
	}
	r.pos += n
	return v
}

// s64 skips a signed LEB128 number of at most 64 bits.
func (r *wasmReader) s64() {
	for i := 0; i < 10; i++ {
		if r.u8()&0x80 == 0 {
			return
		}
	}
	r.fail("malformed signed number")
}

// bytes returns the next n bytes.
func (r *wasmReader) bytes(n uint32) []byte {
	if uint64(n) > uint64(r.left()) {
		r.fail("%d bytes claimed, %d left", n, r.left())
		return nil
	}
	b := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b
}

// vec reads a vector's length and returns it if the bytes left can hold
// that many elements of at least minSize bytes each, and it is at most
// limit; else it records an error naming what and returns 0. Nothing
// proportional to a count may be allocated before it passed here.
func (r *wasmReader) vec(what string, limit uint32, minSize int) uint32 {
	n := r.u32()
	switch {
	case r.err != nil:
	case n > limit:
		r.refuse(overCap(what, uint64(n), uint64(limit)))
	case uint64(n)*uint64(minSize) > uint64(r.left()):
		r.fail("%d %s claimed in %d bytes", n, what, r.left())
	default:
		return n
	}
	return 0
}

// name skips a name (a length-prefixed byte string).
func (r *wasmReader) name() []byte { return r.bytes(r.u32()) }

// constExpr skips a constant expression: one constant instruction and
// end, the forms wazero's default features allow. It returns the
// instruction and, for global.get and ref.func, the index it names.
func (r *wasmReader) constExpr() (op byte, index uint32) {
	switch op = r.u8(); op {
	case opI32Const:
		r.s32()
	case opI64Const:
		r.s64()
	case opF32Const:
		r.bytes(4)
	case opF64Const:
		r.bytes(8)
	case opGlobalGet, opRefFunc:
		index = r.u32()
	case opRefNull:
		r.u8()
	case opVectorPrefix: // v128.const
		if r.u32() != 12 {
			r.fail("unsupported constant instruction 0xfd")
		}
		r.bytes(16)
	default:
		r.fail("unsupported constant instruction %#x", op)
	}
	if r.u8() != opEnd {
		r.fail("constant expression without end")
	}
	return op, index
}

// checkedConstExpr is constExpr, failing when the expression names a
// function or global index of at least funcs or globals.
func (r *wasmReader) checkedConstExpr(funcs, globals uint32) {
	switch op, i := r.constExpr(); {
	case r.err != nil:
	case op == opRefFunc && i >= funcs:
		r.fail("function %d is not declared", i)
	case op == opGlobalGet && i >= globals:
		r.fail("global %d is not declared", i)
	}
}

// limits reads a table's or memory's limits: flags 0 (min) or 1 (min,
// max), the forms wazero's default features allow for tables.
func (r *wasmReader) limits() (min uint32, max uint32, hasMax bool) {
	switch flags := r.u8(); flags {
	case 0:
		return r.u32(), 0, false
	case 1:
		min = r.u32()
		return min, r.u32(), true
	default:
		r.fail("unsupported limits flags %#x", flags)
		return 0, 0, false
	}
}

// Opcodes and section ids the reader and rewriters need.
const (
	opUnreachable  = 0x00
	opIf           = 0x04
	opEnd          = 0x0b
	opCall         = 0x10
	opLocalGet     = 0x20
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opI32Const     = 0x41
	opI64Const     = 0x42
	opF32Const     = 0x43
	opF64Const     = 0x44
	opI32GtU       = 0x4b
	opI32Add       = 0x6a
	opI32Sub       = 0x6b
	opRefNull      = 0xd0
	opRefFunc      = 0xd2
	opVectorPrefix = 0xfd

	blockTypeEmpty = 0x40
	valueTypeI32   = 0x7f
	refTypeFunc    = 0x70
	refTypeExtern  = 0x6f
	funcTypeForm   = 0x60

	exportKindGlobal = 3

	sectionCustom    = 0
	sectionType      = 1
	sectionImport    = 2
	sectionFunction  = 3
	sectionTable     = 4
	sectionMemory    = 5
	sectionGlobal    = 6
	sectionExport    = 7
	sectionStart     = 8
	sectionElement   = 9
	sectionCode      = 10
	sectionData      = 11
	sectionDataCount = 12
)

// sectionNames names the sections for error messages.
var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "data count"}

// sleb32 decodes a signed LEB128 number of at most 32 bits, returning it
// and its length, or a length of 0 if b does not start with one.
func sleb32(b []byte) (int32, int) {
	var v int64
	for i := 0; i < 5 && i < len(b); i++ {
		v |= int64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if shift := 7 * (i + 1); shift < 64 && b[i]&0x40 != 0 {
				v |= -1 << shift
			}
			if v < -1<<31 || v > 1<<31-1 {
				return 0, 0
			}
			return int32(v), i + 1
		}
	}
	return 0, 0
}

func appendSleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendUleb(b []byte, v uint32) []byte { return binary.AppendUvarint(b, uint64(v)) }

// appendSection appends a section with its id and size.
func appendSection(out []byte, id byte, contents []byte) []byte {
	out = append(out, id)
	out = appendUleb(out, uint32(len(contents)))
	return append(out, contents...)
}
