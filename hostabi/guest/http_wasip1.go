//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// The host functions (hostabi/README.md, "Functions"). The linker keeps
// an import only if the plugin calls it, so a plugin that never calls
// DoHTTP does not import http_request and needs no grant (nor
// kubernetes_request without DoKubernetes).

//go:wasmimport tekton http_request
func tektonHTTPRequest(req unsafe.Pointer, reqLen uint32, body unsafe.Pointer, bodyLen uint32, out unsafe.Pointer) uint32

//go:wasmimport tekton kubernetes_request
func tektonKubernetesRequest(req unsafe.Pointer, reqLen uint32, body unsafe.Pointer, bodyLen uint32, out unsafe.Pointer) uint32

//go:wasmimport tekton buffer_read
func tektonBufferRead(handle uint32, buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport tekton buffer_close
func tektonBufferClose(handle uint32) uint32

//go:wasmimport tekton last_error
func tektonLastError(buf unsafe.Pointer, bufLen uint32) int32

// ptr is the address of b's first byte; nil for an empty b, which the
// host then reads nothing from.
func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// httpRequest calls http_request and reads the response's buffers.
func httpRequest(doc, body []byte) (status int, header, respBody []byte, err error) {
	var out [5]uint32 // status, headers handle and length, body handle and length
	if errno := tektonHTTPRequest(ptr(doc), uint32(len(doc)), ptr(body), uint32(len(body)), unsafe.Pointer(&out[0])); errno != 0 {
		return 0, nil, nil, hostError(errno)
	}
	if header, err = readBuffer(out[1], out[2]); err != nil {
		return 0, nil, nil, err
	}
	if respBody, err = readBuffer(out[3], out[4]); err != nil {
		return 0, nil, nil, err
	}
	return int(out[0]), header, respBody, nil
}

// kubernetesRequest calls kubernetes_request and reads the answer's
// buffer.
func kubernetesRequest(doc, body []byte) (status int, respBody []byte, err error) {
	var out [3]uint32 // status, body handle and length
	if errno := tektonKubernetesRequest(ptr(doc), uint32(len(doc)), ptr(body), uint32(len(body)), unsafe.Pointer(&out[0])); errno != 0 {
		return 0, nil, hostError(errno)
	}
	if respBody, err = readBuffer(out[1], out[2]); err != nil {
		return 0, nil, err
	}
	return int(out[0]), respBody, nil
}

// readBuffer copies the host buffer handle of n bytes and closes it.
func readBuffer(handle, n uint32) ([]byte, error) {
	if handle == 0 {
		return nil, nil
	}
	b := make([]byte, n)
	errno := tektonBufferRead(handle, ptr(b), n)
	tektonBufferClose(handle)
	if errno != 0 {
		return nil, hostError(errno)
	}
	return b, nil
}

// hostError is the error of a host function that returned errno, with
// the host's message.
func hostError(errno uint32) error {
	buf := make([]byte, hostabi.MaxErrorBytes)
	n := tektonLastError(ptr(buf), uint32(len(buf)))
	msg := string(buf[:max(0, min(int(n), len(buf)))])
	if msg == "" {
		msg = "the host function failed with " + hostabi.Errno(errno).String()
	}
	return &hostabi.Error{Errno: hostabi.Errno(errno), Message: msg}
}
