// The wait-as plugin is AssemblyScript; these tests build it with
// hack/asbuild.sh, as the Makefile does, and run it in the host's engine
// next to its Go twin, plugins/wait: every case of package waitcases goes
// to the AssemblyScript reactor (what `make plugins` ships), the
// AssemblyScript command (assembly/command.ts) and the Go plugin, and all
// three must answer alike.
package waitas_test

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
	as := plugintest.Load(t, ".")
	waitcases.Run(t, map[string]*plugintest.Harness{
		"as reactor": as,
		"as command": as.Variant(t, wasmtest.AssemblyScriptCommand(t, ".")),
		"go":         plugintest.Load(t, "../wait"),
	})
}

// BenchmarkInvoke measures one call of the shipped module (the reactor)
// in the host's engine (waitcases.Benchmark).
func BenchmarkInvoke(b *testing.B) {
	waitcases.Benchmark(b, plugintest.Load(b, "."))
}
