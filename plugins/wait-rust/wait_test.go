// The wait-rust plugin is Rust; these tests build it with Debian's cargo,
// as the Makefile does, and run it in the host's engine next to its Go
// twin, plugins/wait: every case of package waitcases goes to the Rust
// reactor (what `make plugins` ships), the Rust command (src/main.rs) and
// the Go plugin, and all three must answer alike.
package waitrust_test

import (
	"testing"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/plugins/internal/plugintest"
	"github.com/tekton-wasm/tekton-wasm/plugins/internal/waitcases"
)

func TestTwins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm modules")
	}
	rust := plugintest.Load(t, ".")
	waitcases.Run(t, map[string]*plugintest.Harness{
		"rust reactor": rust,
		"rust command": rust.Variant(t, wasmtest.RustCommand(t, ".")),
		"go":           plugintest.Load(t, "../wait"),
	})
}

// BenchmarkInvoke measures one call of the shipped module (the reactor)
// in the host's engine (waitcases.Benchmark).
func BenchmarkInvoke(b *testing.B) {
	waitcases.Benchmark(b, plugintest.Load(b, "."))
}
