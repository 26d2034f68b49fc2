package engine

import (
	"bytes"
	"context"
	"runtime"
	"testing"
)

// BenchmarkCompileAtCaps compiles, cold, modules at the admission caps:
// the most functions (empty ones), and the most code (bodies of the
// largest size, each a long run of arithmetic on its locals). Their time
// and memory bound what one hostile plugin ConfigMap can cost the
// controller to load.
func BenchmarkCompileAtCaps(b *testing.B) {
	exports := section(sectionExport, uleb(1), []byte{6}, []byte("_start"), []byte{0}, uleb(0))
	mostFunctions := wasmModule(emptyFuncType,
		section(sectionFunction, uleb(MaxFunctions), make([]byte, MaxFunctions)),
		exports,
		section(sectionCode, uleb(MaxFunctions), bytes.Repeat([]byte{2, 0, opEnd}, MaxFunctions)))

	// local.get 0; local.get 1; i32.add; local.set 2 ... over the locals,
	// in as many bodies of the largest size as the code section holds.
	const funcs = MaxCodeBytes / MaxFunctionBytes
	var body []byte
	body = append(body, 1)
	body = appendUleb(body, MaxFunctionLocals)
	body = append(body, valueTypeI32)
	for i := uint32(0); len(body) < MaxFunctionBytes-32; i = (i + 1) % (MaxFunctionLocals - 2) {
		body = append(body, opLocalGet)
		body = appendUleb(body, i)
		body = append(body, opLocalGet)
		body = appendUleb(body, i+1)
		body = append(body, opI32Add, 0x21) // local.set
		body = appendUleb(body, i+2)
	}
	body = append(body, opEnd)
	mostCode := wasmModule(emptyFuncType, section(sectionFunction, uleb(funcs-1), make([]byte, funcs-1)), exports,
		section(sectionCode, uleb(funcs-1), bytes.Repeat(append(uleb(uint32(len(body))), body...), funcs-1)))

	for _, m := range []struct {
		name string
		wasm []byte
	}{{"functions", mostFunctions}, {"code", mostCode}} {
		b.Run(m.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for b.Loop() {
				e, err := New(context.Background(), Config{})
				if err != nil {
					b.Fatal(err)
				}
				p, err := e.Compile(context.Background(), m.wasm, Limits{})
				if err != nil {
					b.Fatal(err)
				}
				p.Close(context.Background())
				e.Close(context.Background())
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB/op")
			b.ReportMetric(float64(after.Sys)/(1<<20), "MiB-sys")
		})
	}
}
