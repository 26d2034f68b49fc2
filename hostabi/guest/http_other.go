//go:build !wasip1

package guest

import "github.com/tekton-wasm/tekton-wasm/hostabi"

// httpRequest outside a wasip1 build, where there is no host to call:
// the package builds for the host's tests, and DoHTTP says why it fails.
func httpRequest([]byte, []byte) (int, []byte, []byte, error) {
	return 0, nil, nil, &HTTPError{Errno: hostabi.ErrnoNotCapable,
		Message: "guest.DoHTTP needs the tekton-wasm host: build the plugin with GOOS=wasip1 GOARCH=wasm and run it there"}
}
