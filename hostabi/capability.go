package hostabi

import "strconv"

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
	// CapabilityKubernetes is reserved for Kubernetes requests made as
	// the run's ServiceAccount (issue 10, section 3); no function yet.
	CapabilityKubernetes Capability = "kubernetes"
)

// Names of the host functions in ImportModule.
const (
	// FuncHTTPRequest sends one HTTP request (CapabilityHTTP):
	//	http_request(req_ptr, req_len, body_ptr, body_len, out_ptr i32) -> errno i32
	FuncHTTPRequest = "http_request"
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
	FuncHTTPRequest: CapabilityHTTP,
	FuncBufferRead:  "",
	FuncBufferClose: "",
	FuncLastError:   "",
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
	// the request would reach.
	ErrnoDenied Errno = 3
	// ErrnoTooLarge: a size limit of the request or the response.
	ErrnoTooLarge Errno = 4
	// ErrnoLimit: the call has made MaxHTTPRequests requests already.
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
