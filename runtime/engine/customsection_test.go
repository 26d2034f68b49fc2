package engine

import (
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// A module carrying a custom section the host does not know, as one
// carrying its manifest does (manifest.Embed), compiles and runs.
func TestModuleWithAnAppendedCustomSectionRuns(t *testing.T) {
	wasm, err := wasmmodule.SetCustomSection(wat(t, "ok"), "tekton-wasm.manifest", []byte(`{"name":"ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, sharedEngine(t), wasm, Limits{})
	if p.Digest() != wasmmodule.Digest(wasm) {
		t.Errorf("Digest %s; want the digest of the final bytes %s", p.Digest(), wasmmodule.Digest(wasm))
	}
	if resp := invoke(t, p, request(), Invocation{}); resp.Status != hostabi.StatusSucceeded {
		t.Errorf("response %+v; want Succeeded", resp)
	}
}
