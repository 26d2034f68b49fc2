package guest

import (
	"encoding/json"
	"fmt"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// HTTPRequest is one request for DoHTTP.
type HTTPRequest struct {
	// Method is the HTTP method; "" means GET.
	Method string
	// URL is an absolute http or https URL whose host the plugin's
	// manifest allows (capabilities.http.allow).
	URL string
	// Header holds the request's header fields, by name.
	Header map[string][]string
	// Body is the request body; nil for none.
	Body []byte
}

// HTTPResponse is the final response to a request, after the redirects
// the host followed.
type HTTPResponse struct {
	// Status is the HTTP status code; any status is a response, not an
	// error.
	Status int
	// Header holds the response's header fields, by canonical name.
	Header map[string][]string
	// Body is the whole response body.
	Body []byte
}

// HTTPError is DoHTTP's error: the errno of the host function, and the
// host's message, which for a denied host names the host and the
// setting that allows it. It is the error of every host function
// (hostabi.Error).
type HTTPError = hostabi.Error

// DoHTTP sends req through the host's HTTP capability (hostabi/README.md,
// "HTTP") and returns the response. The plugin's manifest must grant the
// capability (capabilities.http), else the plugin does not load; a plugin
// that never calls DoHTTP does not import it. The host bounds the request
// by the call's deadline and its size and count limits
// (hostabi.MaxHTTPRequests, ...); every failure is an *HTTPError, whose
// Errno says which (hostabi.ErrnoDenied for a host the manifest does not
// allow). It does not use net/http, which would make a plugin several
// megabytes larger.
//
// The call blocks the plugin until the response is read: the host, not
// a context, stops it when the call ends.
func DoHTTP(req *HTTPRequest) (*HTTPResponse, error) {
	doc, err := json.Marshal(hostabi.HTTPRequest{Method: req.Method, URL: req.URL, Headers: req.Header})
	if err != nil {
		return nil, &hostabi.Error{Errno: hostabi.ErrnoInval, Message: fmt.Sprintf("encoding the request: %v", err)}
	}
	status, header, body, err := httpRequest(doc, req.Body)
	if err != nil {
		return nil, err
	}
	resp := &HTTPResponse{Status: status, Body: body}
	if len(header) > 0 {
		if err := json.Unmarshal(header, &resp.Header); err != nil {
			return nil, &hostabi.Error{Errno: hostabi.ErrnoIO, Message: fmt.Sprintf("the host's response headers are not JSON: %v", err)}
		}
	}
	return resp, nil
}
