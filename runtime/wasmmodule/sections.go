package wasmmodule

import (
	"encoding/binary"
	"fmt"
	"iter"
)

// Section is one section of a module, as Sections frames it:
// wasm[Header:Start] is its id and size, wasm[Start:End] its contents.
// For a custom section (ID CustomSection), Name is its name and
// wasm[Payload:End] what follows the name.
type Section struct {
	ID                 byte
	Header, Start, End int
	Name               string
	Payload            int
}

// CustomSection is the id of a custom section, which a module may carry
// anywhere and any number of times, and which runtimes ignore unless they
// know its name.
const CustomSection = 0

// HeaderSize is the size of a module's header: the magic and the version.
const HeaderSize = 8

// Sections walks the sections of wasm after its header, in the module's
// order, without reading their contents (beyond a custom section's name)
// or allocating anything in proportion to them. A framing error (a size
// past the end, a malformed number, a custom section without a valid
// name) is yielded, as "at byte N: what", in place of a section, and ends
// the walk. Section ids and order are not checked.
func Sections(wasm []byte) iter.Seq2[Section, error] {
	return func(yield func(Section, error) bool) {
		pos := min(HeaderSize, len(wasm))
		for pos < len(wasm) {
			s := Section{ID: wasm[pos], Header: pos}
			size, n := Uleb32(wasm[pos+1:])
			if n == 0 {
				yield(Section{}, fmt.Errorf("at byte %d: malformed unsigned number", pos+1))
				return
			}
			s.Start = pos + 1 + n
			if left := len(wasm) - s.Start; uint64(size) > uint64(left) {
				yield(Section{}, fmt.Errorf("at byte %d: %d bytes claimed, %d left", s.Start, size, left))
				return
			}
			s.End = s.Start + int(size)
			if s.ID == CustomSection {
				nameLen, n := Uleb32(wasm[s.Start:s.End])
				switch {
				case n == 0:
					yield(Section{}, fmt.Errorf("custom section: at byte %d: malformed unsigned number", s.Start))
					return
				case uint64(nameLen) > uint64(s.End-s.Start-n):
					yield(Section{}, fmt.Errorf("custom section: at byte %d: %d bytes claimed, %d left", s.Start+n, nameLen, s.End-s.Start-n))
					return
				}
				s.Payload = s.Start + n + int(nameLen)
				s.Name = string(wasm[s.Start+n : s.Payload])
			}
			if !yield(s, nil) {
				return
			}
			pos = s.End
		}
	}
}

// CustomSections returns the payloads of wasm's custom sections named
// name, in order.
func CustomSections(wasm []byte, name string) ([][]byte, error) {
	var found [][]byte
	for s, err := range Sections(wasm) {
		if err != nil {
			return nil, fmt.Errorf("the module is malformed: %w", err)
		}
		if s.ID == CustomSection && s.Name == name {
			found = append(found, wasm[s.Payload:s.End])
		}
	}
	return found, nil
}

// ErrTooLarge is the error for a module that would grow past MaxBytes.
var ErrTooLarge = fmt.Errorf("the module would be more than %d bytes, the limit", MaxBytes)

// SetCustomSection returns a copy of wasm without its custom sections
// named name and with one such section holding payload at its end.
// Appending a custom section is a valid transform of any module: the
// module's code and behaviour do not change, only its bytes and so its
// Digest.
func SetCustomSection(wasm []byte, name string, payload []byte) ([]byte, error) {
	if !IsWasm(wasm) || len(wasm) < HeaderSize {
		return nil, ErrNotWasm
	}
	contents := binary.AppendUvarint(nil, uint64(len(name)))
	contents = append(append(contents, name...), payload...)
	out := make([]byte, 0, len(wasm)+len(contents)+1+binary.MaxVarintLen32)
	out = append(out, wasm[:HeaderSize]...)
	for s, err := range Sections(wasm) {
		if err != nil {
			return nil, fmt.Errorf("the module is malformed: %w", err)
		}
		if s.ID != CustomSection || s.Name != name {
			out = append(out, wasm[s.Header:s.End]...)
		}
	}
	out = append(out, CustomSection)
	out = binary.AppendUvarint(out, uint64(len(contents)))
	out = append(out, contents...)
	if len(out) > MaxBytes {
		return nil, ErrTooLarge
	}
	return out, nil
}

// Uleb32 decodes an unsigned LEB128 number of at most 32 bits at the
// start of b, returning it and its length, or a length of 0 if b does
// not start with one.
func Uleb32(b []byte) (uint32, int) {
	var v uint64
	for i := 0; i < 5 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if v > 1<<32-1 {
				return 0, 0
			}
			return uint32(v), i + 1
		}
	}
	return 0, 0
}
