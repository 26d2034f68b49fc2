// Package capability holds what the host capabilities (httpcap, kubecap)
// share: reading a plugin's request document and body under the ABI's
// limits, and making the HTTP request from them, with the errnos and
// messages the ABI gives for them.
package capability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// Limits bound a request document and its body; the names are the
// hostabi constants, for messages.
type Limits struct {
	Doc      int
	DocName  string
	Body     int
	BodyName string
}

// Decode checks doc and body against l and decodes doc, a JSON object
// of what (in messages: "an HTTP request"), into v: unknown fields and
// anything after the object are refused. Every error is a
// *hostabi.Error: ETOOLARGE or EINVAL.
func Decode(doc, body []byte, l Limits, what string, v any) error {
	if len(doc) > l.Doc {
		return &hostabi.Error{Errno: hostabi.ErrnoTooLarge, Message: fmt.Sprintf("the request document is %d bytes, over %d (%s)", len(doc), l.Doc, l.DocName)}
	}
	if len(body) > l.Body {
		return &hostabi.Error{Errno: hostabi.ErrnoTooLarge, Message: fmt.Sprintf("the request body is %d bytes, over %d (%s)", len(body), l.Body, l.BodyName)}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &hostabi.Error{Errno: hostabi.ErrnoInval, Message: fmt.Sprintf("the request document is not %s: %v", what, err)}
	}
	if dec.More() {
		return &hostabi.Error{Errno: hostabi.ErrnoInval, Message: "the request document has data after its JSON object"}
	}
	return nil
}

// NewRequest is the HTTP request for method, url and body, bound to ctx
// (the call's). It holds a copy of body: the caller's is a view of the
// plugin's memory, which is reused after the call while the transport
// may still be writing a cancelled request. An error is EINVAL.
func NewRequest(ctx context.Context, method, url string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(bytes.Clone(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, &hostabi.Error{Errno: hostabi.ErrnoInval, Message: fmt.Sprintf("the request is invalid: %v", err)}
	}
	return req, nil
}
