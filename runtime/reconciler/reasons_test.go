package reconciler

import (
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/customtask"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
)

// A plugin may not answer with a reason the controller sets itself
// (hostabi.Reserved holds the one list).
func TestReasonsReserved(t *testing.T) {
	for _, r := range []string{ReasonPluginUnavailable, ReasonStatusRejected, customtask.ReasonNotFound, customtask.ReasonForbidden,
		workspace.ReasonForbidden, workspace.ReasonNotFound, workspace.ReasonInvalid} {
		if !hostabi.Reserved(r) {
			t.Errorf("reason %q is not reserved in hostabi", r)
		}
	}
}
