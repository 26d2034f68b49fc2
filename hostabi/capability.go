package hostabi

import (
	"errors"
	"strconv"
)

// Host capabilities: the functions of ImportModule, the errnos they
// return and their limits (README.md, "Host capabilities"). A plugin
// imports only the functions it uses; importing one of a capability its
// manifest does not grant fails the plugin's load.

// Capability names a group of host functions a manifest grants
// (capabilities.<name> in plugin.yaml).
type Capability string

const (
	// CapabilityHTTP is outbound HTTP to the hosts the manifest allows
	// (capabilities.http.allow).
	CapabilityHTTP Capability = "http"
	// CapabilityKubernetes is Kubernetes API requests made as the run's
	// ServiceAccount, within the rules the manifest declares
	// (capabilities.kubernetes).
	CapabilityKubernetes Capability = "kubernetes"
)

// Names of the host functions in ImportModule.
const (
	// FuncHTTPRequest sends one HTTP request (CapabilityHTTP):
	//	http_request(req_ptr, req_len, body_ptr, body_len, out_ptr i32) -> errno i32
	FuncHTTPRequest = "http_request"
	// FuncKubernetesRequest sends one Kubernetes API request
	// (CapabilityKubernetes):
	//	kubernetes_request(req_ptr, req_len, body_ptr, body_len, out_ptr i32) -> errno i32
	FuncKubernetesRequest = "kubernetes_request"
	// FuncBufferRead copies a host buffer into the plugin's memory:
	//	buffer_read(handle, buf_ptr, buf_len i32) -> errno i32
	FuncBufferRead = "buffer_read"
	// FuncBufferClose releases a host buffer:
	//	buffer_close(handle i32) -> errno i32
	FuncBufferClose = "buffer_close"
	// FuncLastError copies the message of the call's last failed host
	// function and returns its full length:
	//	last_error(buf_ptr, buf_len i32) -> len i32
	FuncLastError = "last_error"
)

// HostFunctions maps each function of ImportModule to the capability a
// manifest must grant for a module to import it; "" means any module may
// import it.
var HostFunctions = map[string]Capability{
	FuncHTTPRequest:       CapabilityHTTP,
	FuncKubernetesRequest: CapabilityKubernetes,
	FuncBufferRead:        "",
	FuncBufferClose:       "",
	FuncLastError:         "",
}

// Errno is what a host function of ImportModule returns: 0 for success,
// else one of these. last_error then gives the message.
type Errno int32

const (
	ErrnoSuccess Errno = 0
	// ErrnoInval: a malformed argument (request JSON, URL, method,
	// header) or an unknown buffer handle.
	ErrnoInval Errno = 1
	// ErrnoFault: a pointer and length outside the plugin's memory.
	ErrnoFault Errno = 2
	// ErrnoDenied: the manifest does not allow the host or the address
	// the request would reach, or the Kubernetes request (its group,
	// resource, verb or namespace).
	ErrnoDenied Errno = 3
	// ErrnoTooLarge: a size limit of the request or the response.
	ErrnoTooLarge Errno = 4
	// ErrnoLimit: the call has made MaxHTTPRequests HTTP requests, or
	// MaxKubernetesRequests Kubernetes requests, already.
	ErrnoLimit Errno = 5
	// ErrnoCanceled: the call's deadline passed or the run was
	// cancelled. Reserved: the host stops the plugin inside the
	// function instead of returning it.
	ErrnoCanceled Errno = 6
	// ErrnoIO: the request failed: DNS, connection, TLS, protocol.
	ErrnoIO Errno = 7
	// ErrnoNotCapable: the capability is not available here: in a
	// reactor's _initialize, or from a host that serves none.
	ErrnoNotCapable Errno = 8
	// ErrnoRange: the plugin's buffer is shorter than the host buffer.
	ErrnoRange Errno = 9
)

var errnoNames = [...]string{"success", "EINVAL", "EFAULT", "EDENIED", "ETOOLARGE", "ELIMIT", "ECANCELED", "EIO", "ENOTCAPABLE", "ERANGE"}

// String is the errno's name, as README.md spells it.
func (e Errno) String() string {
	if e >= 0 && int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return "errno " + strconv.Itoa(int(e))
}

// Error is a failed host function: its errno and the message last_error
// gives for it.
type Error struct {
	Errno   Errno
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrnoOf is the errno of err: ErrnoSuccess for nil, the Errno of an
// *Error in err's chain, else ErrnoIO.
func ErrnoOf(err error) Errno {
	var e *Error
	switch {
	case err == nil:
		return ErrnoSuccess
	case errors.As(err, &e):
		return e.Errno
	}
	return ErrnoIO
}

// HTTPRequest is the request document of http_request (JSON, UTF-8).
// Unknown fields are EINVAL.
type HTTPRequest struct {
	// Method is the HTTP method; "" means GET.
	Method string `json:"method,omitempty"`
	// URL is an absolute http or https URL.
	URL string `json:"url"`
	// Headers are the request's header fields, by name.
	Headers map[string][]string `json:"headers,omitempty"`
}

// HTTPResponseSize is the size of what http_request writes at out_ptr:
// five little-endian u32: status, headers handle, headers length, body
// handle, body length.
const HTTPResponseSize = 20

// Limits of the HTTP capability, per call (one invocation of a plugin).
const (
	// MaxHTTPRequests is how many requests one call may send; redirects
	// the host follows do not count.
	MaxHTTPRequests = 16
	// MaxHTTPRequestJSONBytes caps the request document.
	MaxHTTPRequestJSONBytes = 64 << 10
	// MaxHTTPURLBytes caps a request's URL.
	MaxHTTPURLBytes = 8 << 10
	// MaxHTTPRequestHeaders caps the header values of a request, and
	// MaxHTTPRequestHeaderBytes their names and values together.
	MaxHTTPRequestHeaders     = 64
	MaxHTTPRequestHeaderBytes = 16 << 10
	// MaxHTTPRequestBodyBytes caps a request body.
	MaxHTTPRequestBodyBytes = 1 << 20
	// MaxHTTPResponseHeaderBytes caps a response's status line and
	// header fields, as received.
	MaxHTTPResponseHeaderBytes = 64 << 10
	// MaxHTTPResponseBodyBytes caps a response body, after the host
	// decoded any Content-Encoding it asked for (gzip).
	MaxHTTPResponseBodyBytes = 1 << 20
	// MaxHTTPRedirects is how many redirects the host follows for one
	// request, checking each hop against the allow list.
	MaxHTTPRedirects = 5
	// MaxErrorBytes caps a message last_error returns.
	MaxErrorBytes = 1 << 10
)

// KubernetesRequest is the request document of kubernetes_request (JSON,
// UTF-8). Unknown fields are EINVAL.
type KubernetesRequest struct {
	// Verb is one of the Kubernetes* verbs.
	Verb string `json:"verb"`
	// APIVersion and Kind name the resource, as in an object
	// ("tekton.dev/v1", "PipelineRun"; "v1", "ConfigMap"): any kind the
	// cluster's discovery serves, custom resources included.
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Namespace of a namespaced kind; "" means the run's namespace, the
	// only one the host allows. Must be "" for a cluster-scoped kind.
	Namespace string `json:"namespace,omitempty"`
	// Name of the object; required for get, patch and delete; refused
	// for create (the body's metadata names the object) and list.
	Name string `json:"name,omitempty"`
	// LabelSelector filters list ("app=x,tier!=db").
	LabelSelector string `json:"labelSelector,omitempty"`
	// Limit and Continue page list, as the API's limit and continue.
	Limit    int64  `json:"limit,omitempty"`
	Continue string `json:"continue,omitempty"`
	// PatchType is the patch's type: KubernetesPatchMerge (the default)
	// or KubernetesPatchApply (server-side apply).
	PatchType string `json:"patchType,omitempty"`
	// FieldManager names the writer for create and patch; for an apply
	// patch "" means KubernetesDefaultFieldManager.
	FieldManager string `json:"fieldManager,omitempty"`
	// Force makes an apply patch take the fields other managers own.
	Force bool `json:"force,omitempty"`
}

// The verbs of kubernetes_request, named as in RBAC.
const (
	KubernetesGet    = "get"
	KubernetesList   = "list"
	KubernetesCreate = "create"
	KubernetesPatch  = "patch"
	KubernetesDelete = "delete"
)

// The patch types of kubernetes_request.
const (
	// KubernetesPatchMerge is a JSON merge patch (RFC 7386).
	KubernetesPatchMerge = "merge"
	// KubernetesPatchApply is a server-side apply patch: the body is the
	// object as the plugin wants it (its fields the plugin's).
	KubernetesPatchApply = "apply"
)

// KubernetesDefaultFieldManager is the field manager of an apply patch
// that names none.
const KubernetesDefaultFieldManager = "tekton-wasm"

// KubernetesResponseSize is the size of what kubernetes_request writes at
// out_ptr: three little-endian u32: the HTTP status code of the API's
// answer, the body buffer's handle and length.
const KubernetesResponseSize = 12

// Limits of the Kubernetes capability, per call.
const (
	// MaxKubernetesRequests is how many requests one call may send.
	MaxKubernetesRequests = 16
	// MaxKubernetesRequestJSONBytes caps the request document.
	MaxKubernetesRequestJSONBytes = 16 << 10
	// MaxKubernetesBodyBytes caps a request body (the object to create,
	// the patch), the apiserver's own limit for an object.
	MaxKubernetesBodyBytes = 3 << 20 / 2
	// MaxKubernetesResponseBytes caps the body of an answer: above the
	// largest object the apiserver stores, as JSON; a list is paged with
	// Limit to stay below it. A call's unread answers are held by the
	// host: at most MaxKubernetesRequests of this size.
	MaxKubernetesResponseBytes = 2 << 20
)
