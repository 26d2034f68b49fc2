package guest

import (
	"errors"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// TestDoHTTPOutsideWasm: built for the host, DoHTTP fails with a clear
// error instead of the package not building.
func TestDoHTTPOutsideWasm(t *testing.T) {
	_, err := DoHTTP(&HTTPRequest{URL: "https://example.com/"})
	var he *HTTPError
	if !errors.As(err, &he) || he.Errno != hostabi.ErrnoNotCapable || !strings.Contains(he.Message, "GOOS=wasip1") {
		t.Fatalf("DoHTTP = %v, want ENOTCAPABLE saying how to build", err)
	}
}
