// The wait-rust plugin is Rust; these tests build it with Debian's cargo,
// as the Makefile does, and run every case of package waitcases through
// the Rust reactor (what `make plugins` ships), the Rust command
// (src/main.rs) and the Go plugin, plugins/wait: all three must answer
// alike.
package waitrust_test

import (
	"testing"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/plugins/internal/waitcases"
	"github.com/tekton-wasm/tekton-wasm/runtime/plugintest"
)

func TestTwins(t *testing.T) {
	waitcases.Twins(t, "rust", wasmtest.RustPlugin, wasmtest.RustCommand)
}

// BenchmarkInvoke measures one call of the shipped module (the reactor)
// in the host's engine (waitcases.Benchmark).
func BenchmarkInvoke(b *testing.B) {
	waitcases.Benchmark(b, plugintest.Load(b, ".", wasmtest.RustPlugin(b, ".")))
}
