package engine

import (
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
// starts with is then byte for byte the same. coalescedData does this
// once, before compilation (prepareModule); the result is what wazero
// compiles and caches, while the plugin's digest stays that of the module
// as shipped.
//
// When the module is a reactor whose instances can be made from a
// snapshot (snapshot.go), the coalesced segments leave the module
// altogether: most instances get the snapshot, which overwrites
// everything the segments wrote, so wazero's copying them at every
// instantiation would be wasted. The engine writes them itself into the
// instances that do start from the module's initial memory (writeData).

// snapshotted reports whether the module is a reactor with an
// _initialize that nothing in it keeps from being snapshotted: its
// instances will mostly come from a snapshot.
func (l *moduleLayout) snapshotted() bool {
	return l.noSnapshot == "" && l.exportsInitialize && !l.exportsStart
}

// maxDataGap is the longest run of zeros written out to join two
// segments. Go's segments are mostly under 256 bytes apart; the few
// longer gaps (the start of the BSS) are left as gaps.
const maxDataGap = 256

// minSegmentsToCoalesce leaves modules with few segments (C, Rust, WAT)
// as they are: they gain nothing.
const minSegmentsToCoalesce = 64

var errNotCoalescable = errors.New("data segments cannot be coalesced")

// coalescedData returns l's active data segments merged as described
// above, or nil when the module has no data section, few segments, or
// uses anything but active segments at constant offsets in memory 0
// (bulk-memory instructions refer to segments by index, so a module with
// a data count section is left alone). l was admitted by scanModule, so
// the segments' count is within MaxDataSegments.
func coalescedData(l *moduleLayout) []dataSegment {
	data := l.section(sectionData)
	if data == nil || l.section(sectionDataCount) != nil {
		return nil
	}
	segs, err := parseDataSegments(l.wasm[data.start:data.end])
	if err != nil || len(segs) < minSegmentsToCoalesce {
		return nil
	}
	merged, err := mergeDataSegments(segs)
	if err != nil {
		return nil
	}
	return merged
}

type dataSegment struct {
	offset uint32
	init   []byte
}

func (s dataSegment) end() uint64 { return uint64(s.offset) + uint64(len(s.init)) }

func parseDataSegments(b []byte) ([]dataSegment, error) {
	r := &wasmReader{b: b}
	n := r.vec("data segments", MaxDataSegments, 2)
	segs := make([]dataSegment, 0, n)
	for range n {
		seg, plain := readDataSegment(r)
		if !plain {
			return nil, errNotCoalescable
		}
		segs = append(segs, seg)
	}
	if r.err != nil || r.left() != 0 {
		return nil, errNotCoalescable
	}
	return segs, nil
}

// readDataSegment reads one data segment; plain reports the only form
// that can be coalesced: flag 0 (active, memory 0) and an i32.const
// offset. The segment is returned only when plain.
func readDataSegment(r *wasmReader) (seg dataSegment, plain bool) {
	flags := r.u32()
	switch flags {
	case 0:
		if len(r.b) > r.pos && r.b[r.pos] == opI32Const {
			r.pos++
			seg.offset = uint32(r.s32())
			plain = r.u8() == opEnd
		} else {
			r.constExpr()
		}
	case 1: // passive
	case 2: // active, explicit memory
		r.u32()
		r.constExpr()
	default:
		r.fail("unsupported data segment flags %d", flags)
	}
	seg.init = r.bytes(r.u32())
	return seg, plain && r.err == nil
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
	out = appendUleb(out, uint32(len(segs)))
	for _, s := range segs {
		out = append(out, 0, opI32Const)
		out = appendSleb(out, int64(int32(s.offset)))
		out = append(out, opEnd)
		out = appendUleb(out, uint32(len(s.init)))
		out = append(out, s.init...)
	}
	return out
}
