//go:build !wasip1

package guest

import "github.com/tekton-wasm/tekton-wasm/hostabi"

// The host functions outside a wasip1 build, where there is no host to
// call: the package builds for the host's tests, and DoHTTP and
// DoKubernetes say why they fail.

func httpRequest([]byte, []byte) (int, []byte, []byte, error) {
	return 0, nil, nil, noHost("DoHTTP")
}

func kubernetesRequest([]byte, []byte) (int, []byte, error) {
	return 0, nil, noHost("DoKubernetes")
}

func noHost(fn string) error {
	return &hostabi.Error{Errno: hostabi.ErrnoNotCapable,
		Message: "guest." + fn + " needs the tekton-wasm host: build the plugin with GOOS=wasip1 GOARCH=wasm and run it there"}
}
