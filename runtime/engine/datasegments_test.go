package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/tekton-wasm/tekton-wasm/hostabi"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// watModule compiles WAT source given as text.
func watModule(t *testing.T, src string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "module.wat")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return wasmtest.WAT(t, path)
}

// initialMemory instantiates wasm in wazero's interpreter and returns its
// memory, or the instantiation error.
func initialMemory(t *testing.T, wasm []byte) ([]byte, error) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		return nil, err
	}
	b, _ := mod.Memory().Read(0, mod.Memory().Size())
	return bytes.Clone(b), nil
}

// segmentsModule is a module with one page of memory and the given data
// segments, as WAT (offset, quoted string) pairs.
func segmentsModule(segments ...string) string {
	var b strings.Builder
	b.WriteString("(module (memory (export \"memory\") 1)\n")
	for i := 0; i+1 < len(segments); i += 2 {
		fmt.Fprintf(&b, "  (data (i32.const %s) %s)\n", segments[i], segments[i+1])
	}
	b.WriteString(")")
	return b.String()
}

// manySegments is enough segments for coalescing, laid out like Go's:
// short runs a few bytes apart, in increasing order, from 1024 to
// manySegmentsEnd.
func manySegments() []string {
	var segs []string
	for i := range minSegmentsToCoalesce {
		segs = append(segs, fmt.Sprint(1024+i*16), fmt.Sprintf(`"seg%03d"`, i))
	}
	return segs
}

// coalesce returns wasm with its data section coalesced, or nil when
// coalescedData leaves it as it is.
func coalesce(t *testing.T, wasm []byte) []byte {
	t.Helper()
	l, err := scanModule(wasm)
	if err != nil {
		t.Fatal(err)
	}
	merged := coalescedData(l)
	if merged == nil {
		return nil
	}
	d := l.section(sectionData)
	out := appendSection(bytes.Clone(wasm[:d.header]), sectionData, encodeDataSegments(merged))
	return append(out, wasm[d.end:]...)
}

const manySegmentsEnd = 1024 + (minSegmentsToCoalesce-1)*16 + len("seg000")

func TestCoalesceDataSegmentsKeepsInitialMemory(t *testing.T) {
	for _, tc := range []struct {
		name     string
		segments []string
		want     int // segments after coalescing
	}{
		{"adjacent and close", manySegments(), 1},
		{"overlapping, later wins", append(manySegments(), "1030", `"OVER"`, "1028", `"under"`), 1},
		{"out of order", append([]string{"2100", `"late"`}, manySegments()...), 1},
		{"far apart", append(manySegments(), "40000", `"far"`, "20000", `"middle"`), 3},
		{"empty segments", append(manySegments(), "3000", `""`, "65536", `""`), 3},
		{"gap of exactly maxDataGap", append(manySegments(), fmt.Sprint(manySegmentsEnd+maxDataGap), `"x"`), 1},
		{"gap of maxDataGap+1", append(manySegments(), fmt.Sprint(manySegmentsEnd+maxDataGap+1), `"x"`), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := watModule(t, segmentsModule(tc.segments...))
			out := coalesce(t, wasm)
			if out == nil {
				t.Fatal("the module was left as it is")
			}
			want, err := initialMemory(t, wasm)
			if err != nil {
				t.Fatal(err)
			}
			got, err := initialMemory(t, out)
			if err != nil {
				t.Fatalf("the coalesced module does not instantiate: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Error("the coalesced module starts with other memory")
			}
			segs, err := parseDataSegments(dataSection(t, out))
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) != tc.want {
				t.Errorf("%d segments after coalescing, want %d", len(segs), tc.want)
			}
		})
	}
}

// dataSection returns the contents of wasm's data section.
func dataSection(t *testing.T, wasm []byte) []byte {
	t.Helper()
	for pos := 8; pos < len(wasm); {
		size, n := wasmmodule.Uleb32(wasm[pos+1:])
		start := pos + 1 + n
		if wasm[pos] == sectionData {
			return wasm[start : start+int(size)]
		}
		pos = start + int(size)
	}
	t.Fatal("no data section")
	return nil
}

// An out-of-bounds segment still fails instantiation.
func TestCoalesceDataSegmentsKeepsBoundsErrors(t *testing.T) {
	for _, offset := range []string{"65534", "-1"} {
		wasm := watModule(t, segmentsModule(append(manySegments(), offset, `"abc"`)...))
		out := coalesce(t, wasm)
		if out == nil {
			t.Fatal("the module was left as it is")
		}
		if _, err := initialMemory(t, out); err == nil || !strings.Contains(err.Error(), "out of bounds memory access") {
			t.Errorf("offset %s: instantiating the coalesced module: err = %v, want out of bounds", offset, err)
		}
	}
}

func TestCoalesceDataSegmentsLeavesAlone(t *testing.T) {
	many := segmentsModule(manySegments()...)
	globalOffset := strings.Replace(many, "(data (i32.const 1024)", "(data (global.get $g)", 1)
	globalOffset = strings.Replace(globalOffset, "(memory", `(import "env" "g" (global $g i32)) (memory`, 1)
	for _, tc := range []struct {
		name string
		wasm []byte
	}{
		{"few segments", watModule(t, segmentsModule("0", `"a"`, "8", `"b"`))},
		{"passive segment", watModule(t, strings.Replace(many, "(data (i32.const 1024)", "(data", 1))},
		{"offset from a global", watModule(t, globalOffset)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if segs, err := parseDataSegments(dataSection(t, tc.wasm)); err == nil && len(segs) >= minSegmentsToCoalesce {
				t.Error("the segments would be coalesced")
			}
		})
	}
}

// A hostile module cannot make the host write out much more than its own
// size in zeros.
func TestCoalesceDataSegmentsBoundsTheZeros(t *testing.T) {
	var segs []string
	for i := range 4 * minSegmentsToCoalesce {
		segs = append(segs, fmt.Sprint(i*maxDataGap), `"x"`)
	}
	wasm := watModule(t, segmentsModule(segs...))
	if out := coalesce(t, wasm); len(out) > 2*len(wasm)+1<<20+64 {
		t.Errorf("coalescing grew the module from %d to %d bytes", len(wasm), len(out))
	}
}

// The Go test plugin, with its tens of thousands of segments, starts with
// the same memory, from a few segments.
func TestCoalesceDataSegmentsOfAGoPlugin(t *testing.T) {
	wasm := goPlugin(t)
	out := coalesce(t, wasm)
	before, err := parseDataSegments(dataSection(t, wasm))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseDataSegments(dataSection(t, out))
	if err != nil {
		t.Fatal(err)
	}
	image := func(segs []dataSegment) []byte {
		var b []byte
		for _, s := range segs {
			if end := int(s.end()); end > len(b) {
				b = append(b, make([]byte, end-len(b))...)
			}
			copy(b[s.offset:], s.init)
		}
		return b
	}
	t.Logf("%d segments before, %d after", len(before), len(after))
	if len(after) > 8 {
		t.Errorf("%d segments after coalescing; want a few", len(after))
	}
	if !bytes.Equal(image(before), image(after)) {
		t.Error("the coalesced segments write other bytes")
	}
}

// A reactor whose instances come from a snapshot loses its coalesced
// segments to the engine, which writes them into every instance that does
// not get the snapshot (the one that takes it, those of calls with
// mounts): the instance starts with the same memory, and a segment out of
// bounds still fails it. A command keeps its segments.
func TestDataSegmentsWrittenByTheEngine(t *testing.T) {
	const response = `{"status":"Succeeded"}`
	module := func(export string, extra ...string) []byte {
		// An iovec at 0: the response at 512, its length.
		segs := append(manySegments(), "0", fmt.Sprintf(`"\00\02\00\00\%02x\00\00\00"`, len(response)), "512", fmt.Sprintf("%q", response))
		src := segmentsModule(append(segs, extra...)...)
		return watModule(t, strings.Replace(src, "(module", `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (func (export "_initialize"))
  (func (export "`+export+`") (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))`, 1))
	}
	for _, export := range []string{"tekton_run", "_start"} {
		wasm := module(export)
		pm, err := prepareModule(wasm)
		if err != nil {
			t.Fatal(err)
		}
		if stripped := pm.data != nil && !bytes.Contains(pm.wasm, []byte(response)); stripped != (export == "tekton_run") {
			t.Errorf("%s: segments taken out of the module: %v; want them taken out of a reactor's only", export, stripped)
		}
		p := mustCompile(t, sharedEngine(t), wasm, Limits{})
		mount := []Mount{{HostDir: t.TempDir(), GuestPath: "/w"}}
		for _, inv := range []Invocation{{}, {}, {Mounts: mount}} {
			if resp := invoke(t, p, request(), inv); resp.Status != "Succeeded" {
				t.Errorf("%s: got %+v; want the response the data segments hold", export, resp)
			}
		}
	}
	p := mustCompile(t, sharedEngine(t), module("tekton_run", "65534", `"abc"`), Limits{})
	wantFailed(t, invoke(t, p, request(), Invocation{}), hostabi.ReasonLoadFailed,
		"the plugin could not be instantiated: its data segments (3 bytes at offset 65534) do not fit its initial memory (64 KiB)")
}
