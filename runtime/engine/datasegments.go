package engine

import (
	"encoding/binary"
	"errors"
	"slices"
)

// Coalescing data segments.
//
// Go's linker emits one active data segment per run of non-zero bytes: a
// Go plugin has about 31,000 of them, most a few bytes long and a few
// bytes apart. wazero evaluates every segment's offset expression and
// copies it on every instantiation, with several small allocations per
// segment, which made data segments the largest host-side cost of a
// fresh Go instance (about 25,000 allocations per instance).
//
// Because linear memory starts zeroed, the active segments of a module
// can be replaced by fewer, longer segments holding the same bytes, with
// the short zero gaps between them written out. The memory an instance
// starts with is then byte for byte the same. coalesceDataSegments does
// this once, before compilation; the result is what wazero compiles and
// caches, while the plugin's digest stays that of the module as shipped.

// maxDataGap is the longest run of zeros written out to join two
// segments. Go's segments are mostly under 256 bytes apart; the few
// longer gaps (the start of the BSS) are left as gaps.
const maxDataGap = 256

// minSegmentsToCoalesce leaves modules with few segments (C, Rust, WAT)
// as they are: they gain nothing.
const minSegmentsToCoalesce = 64

const (
	sectionData      = 11
	sectionDataCount = 12
	opI32Const       = 0x41
	opEnd            = 0x0b
)

var errNotCoalescable = errors.New("data segments cannot be coalesced")

// coalesceDataSegments returns wasm with its active data segments merged
// as described above, or wasm itself when the module is malformed (wazero
// then reports it), has few segments, or uses anything but active
// segments at constant offsets in memory 0 (bulk-memory instructions
// refer to segments by index, so a module with a data count section is
// left alone).
func coalesceDataSegments(wasm []byte) []byte {
	if len(wasm) < 8 {
		return wasm
	}
	var header, dataStart, dataEnd int // the data section: its id, contents and end
	for pos := 8; pos < len(wasm); {
		id := wasm[pos]
		size, n := uleb32(wasm[pos+1:])
		if n == 0 || uint64(pos+1+n)+uint64(size) > uint64(len(wasm)) {
			return wasm
		}
		start := pos + 1 + n
		switch id {
		case sectionDataCount:
			return wasm
		case sectionData:
			header, dataStart, dataEnd = pos, start, start+int(size)
		}
		pos = start + int(size)
	}
	if dataStart == 0 {
		return wasm
	}
	segs, err := parseDataSegments(wasm[dataStart:dataEnd])
	if err != nil || len(segs) < minSegmentsToCoalesce {
		return wasm
	}
	merged, err := mergeDataSegments(segs)
	if err != nil {
		return wasm
	}
	section := encodeDataSegments(merged)
	out := make([]byte, 0, len(wasm)-(dataEnd-dataStart)+len(section)+5)
	out = append(out, wasm[:header]...)
	out = append(out, sectionData)
	out = binary.AppendUvarint(out, uint64(len(section)))
	out = append(out, section...)
	return append(out, wasm[dataEnd:]...)
}

type dataSegment struct {
	offset uint32
	init   []byte
}

func (s dataSegment) end() uint64 { return uint64(s.offset) + uint64(len(s.init)) }

func parseDataSegments(b []byte) ([]dataSegment, error) {
	count, n := uleb32(b)
	if n == 0 || uint64(count) > uint64(len(b)) {
		return nil, errNotCoalescable
	}
	b = b[n:]
	segs := make([]dataSegment, 0, count)
	for range count {
		// Only the plainest form: flag 0 (active, memory 0), i32.const
		// offset, end.
		if len(b) < 2 || b[0] != 0 || b[1] != opI32Const {
			return nil, errNotCoalescable
		}
		offset, n := sleb32(b[2:])
		if n == 0 || len(b) < 3+n || b[2+n] != opEnd {
			return nil, errNotCoalescable
		}
		b = b[3+n:]
		size, n := uleb32(b)
		if n == 0 || uint64(n)+uint64(size) > uint64(len(b)) {
			return nil, errNotCoalescable
		}
		segs = append(segs, dataSegment{offset: uint32(offset), init: b[n : n+int(size)]})
		b = b[n+int(size):]
	}
	if len(b) != 0 {
		return nil, errNotCoalescable
	}
	return segs, nil
}

// mergeDataSegments groups segments that overlap or lie at most
// maxDataGap bytes apart and renders each group as one segment, applying
// its segments in their original order so that a later segment wins
// where two overlap, as at instantiation. It refuses to write out more
// zeros than the module has data, so that a hostile module cannot make
// the host allocate much more than its own size.
func mergeDataSegments(segs []dataSegment) ([]dataSegment, error) {
	order := make([]int, len(segs))
	var total uint64
	for i, s := range segs {
		order[i] = i
		total += uint64(len(s.init))
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(int64(segs[a].offset) - int64(segs[b].offset)) })

	type group struct {
		start, end uint64
		members    []int
	}
	var groups []group
	for _, i := range order {
		s := segs[i]
		if g := len(groups) - 1; g >= 0 && uint64(s.offset) <= groups[g].end+maxDataGap {
			groups[g].end = max(groups[g].end, s.end())
			groups[g].members = append(groups[g].members, i)
			continue
		}
		groups = append(groups, group{start: uint64(s.offset), end: s.end(), members: []int{i}})
	}
	var span uint64
	for _, g := range groups {
		span += g.end - g.start
	}
	if span > 2*total+1<<20 {
		return nil, errNotCoalescable
	}

	merged := make([]dataSegment, len(groups))
	for gi, g := range groups {
		buf := make([]byte, g.end-g.start)
		slices.Sort(g.members) // original order
		for _, i := range g.members {
			copy(buf[uint64(segs[i].offset)-g.start:], segs[i].init)
		}
		merged[gi] = dataSegment{offset: uint32(g.start), init: buf}
	}
	return merged, nil
}

func encodeDataSegments(segs []dataSegment) []byte {
	size := 5
	for _, s := range segs {
		size += 1 + 1 + 5 + 1 + 5 + len(s.init)
	}
	out := make([]byte, 0, size)
	out = binary.AppendUvarint(out, uint64(len(segs)))
	for _, s := range segs {
		out = append(out, 0, opI32Const)
		out = appendSleb(out, int64(int32(s.offset)))
		out = append(out, opEnd)
		out = binary.AppendUvarint(out, uint64(len(s.init)))
		out = append(out, s.init...)
	}
	return out
}

// uleb32 decodes an unsigned LEB128 number of at most 32 bits, returning
// it and its length, or a length of 0 if b does not start with one.
func uleb32(b []byte) (uint32, int) {
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
