// The wait-as plugin is AssemblyScript; these tests build it with
// hack/asbuild.sh, as the Makefile does, and run every case of package
// waitcases through the AssemblyScript reactor (what `make plugins`
// ships), the AssemblyScript command (assembly/command.ts) and the Go
// plugin, plugins/wait: all three must answer alike.
package waitas_test

import (
	"testing"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/plugins/internal/waitcases"
	"github.com/tekton-wasm/tekton-wasm/runtime/plugintest"
)

func TestTwins(t *testing.T) {
	waitcases.Twins(t, "as", wasmtest.AssemblyScriptPlugin, wasmtest.AssemblyScriptCommand)
}

// BenchmarkInvoke measures one call of the shipped module (the reactor)
// in the host's engine (waitcases.Benchmark).
func BenchmarkInvoke(b *testing.B) {
	waitcases.Benchmark(b, plugintest.Load(b, ".", wasmtest.AssemblyScriptPlugin(b, ".")))
}
