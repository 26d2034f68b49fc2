package lifecycle

import (
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// A plugin may not answer with a reason of the state machine's
// (hostabi.Reserved holds the one list).
func TestReasonsReserved(t *testing.T) {
	for _, r := range []string{ReasonStarted, ReasonRetrying, ReasonCancelled, ReasonTimedOut, ReasonValidationFailed} {
		if !hostabi.Reserved(r) {
			t.Errorf("reason %q is not reserved in hostabi", r)
		}
	}
}
