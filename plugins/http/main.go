// Command http is the HTTPRequest custom task
// (http.tekton-wasm.dev/v1alpha1, kind HTTPRequest) as a tekton-wasm
// plugin: it sends one HTTP request through the host's HTTP capability
// (hostabi/README.md, "HTTP"), checks the status, and returns the status,
// the body and values picked out of a JSON body as results. It reaches
// only the hosts its manifest allows (capabilities.http.allow, empty as
// shipped: the operator adds hosts). Credentials come from a Secret
// workspace named headers, never from params. Timeout, retries and
// cancellation are the host's.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o bin/plugins/http.wasm ./plugins/http
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

// Reasons of a Failed run, besides the SDK's param reasons.
const (
	reasonHostNotAllowed   = "HostNotAllowed"
	reasonUnexpectedStatus = "UnexpectedStatus"
	reasonRequestFailed    = "RequestFailed"
	reasonUnexpectedSpec   = "UnexpectedSpec"
)

// Params, results and the workspace.
const (
	paramURL          = "url"
	paramMethod       = "method"
	paramBody         = "body"
	paramHeaders      = "headers"
	paramExpectStatus = "expectStatus"
	paramJSONResults  = "jsonResults"

	resultStatus = "status"
	resultBody   = "body"

	headersWorkspace = "headers"
)

// bodyExcerptBytes is how much of an unexpected response's body a
// failure message quotes.
const bodyExcerptBytes = 512

func main() {
	guest.Run(func(_ context.Context, req *hostabi.Request) (*hostabi.Response, error) {
		return run(req, guest.DoHTTP)
	})
}

// call parses the run's params into a request.
type call struct {
	req         guest.HTTPRequest
	expectText  string // as the run gave it, for messages
	expect      []statusRange
	jsonResults map[string]string
}

func run(req *hostabi.Request, do func(*guest.HTTPRequest) (*guest.HTTPResponse, error)) (*hostabi.Response, error) {
	c, err := parse(req)
	if err != nil {
		return nil, err
	}
	where := c.req.Method + " " + origin(c.req.URL)
	resp, err := do(&c.req)
	if err != nil {
		var he *guest.HTTPError
		if errors.As(err, &he) && he.Errno == hostabi.ErrnoDenied {
			return nil, guest.Fail(reasonHostNotAllowed, "%s", he.Message)
		}
		return nil, guest.Fail(reasonRequestFailed, "%s: %v", where, err)
	}
	if !matches(c.expect, resp.Status) {
		return nil, guest.Fail(reasonUnexpectedStatus, "%s answered %d; expected %s; the body begins: %q",
			where, resp.Status, c.expectText, excerpt(resp.Body))
	}
	out := &hostabi.Response{
		Status:  hostabi.StatusSucceeded,
		Message: fmt.Sprintf("%s answered %d", where, resp.Status),
		Results: []hostabi.Result{{Name: resultStatus, Value: strconv.Itoa(resp.Status)}},
	}
	if len(resp.Body) <= hostabi.MaxResultValueBytes && utf8.Valid(resp.Body) {
		out.Results = append(out.Results, hostabi.Result{Name: resultBody, Value: string(resp.Body)})
	} else {
		out.Message += fmt.Sprintf("; the body (%d bytes) is not in the body result: it is over %d bytes or not UTF-8", len(resp.Body), hostabi.MaxResultValueBytes)
	}
	picked, err := pick(resp.Body, c.jsonResults)
	if err != nil {
		return nil, guest.Fail(reasonRequestFailed, "%s answered %d, but %v", where, resp.Status, err)
	}
	out.Results = append(out.Results, picked...)
	return out, nil
}

func parse(req *hostabi.Request) (*call, error) {
	if len(req.Spec) > 0 {
		return nil, guest.Fail(reasonUnexpectedSpec, "HTTPRequest takes no spec: pass the request as params")
	}
	p := guest.Params(req)
	if err := p.Only(paramURL, paramMethod, paramBody, paramHeaders, paramExpectStatus, paramJSONResults); err != nil {
		return nil, err
	}
	var c call
	var err error
	if c.req.URL, err = p.String(paramURL); err != nil {
		return nil, err
	}
	if c.req.Method, err = p.OptionalString(paramMethod, "GET"); err != nil {
		return nil, err
	}
	body, err := p.OptionalString(paramBody, "")
	if err != nil {
		return nil, err
	}
	if body != "" {
		c.req.Body = []byte(body)
	}
	headers, err := p.OptionalObject(paramHeaders)
	if err != nil {
		return nil, err
	}
	if c.req.Header, err = mergeHeaders(headers, req); err != nil {
		return nil, err
	}
	if c.expectText, err = p.OptionalString(paramExpectStatus, "2xx"); err != nil {
		return nil, err
	}
	if c.expect, err = parseExpect(c.expectText); err != nil {
		return nil, guest.Fail(guest.ReasonInvalidParam, "param %q: %v", paramExpectStatus, err)
	}
	if c.jsonResults, err = p.OptionalObject(paramJSONResults); err != nil {
		return nil, err
	}
	for name, ptr := range c.jsonResults {
		switch {
		case name == resultStatus || name == resultBody:
			return nil, guest.Fail(guest.ReasonInvalidParam, "param %q: %q is a result of its own; name the value otherwise", paramJSONResults, name)
		case !hostabi.ValidResultName(name):
			return nil, guest.Fail(guest.ReasonInvalidParam, "param %q: %q cannot name a result (letters, digits, '-', '_', '.')", paramJSONResults, name)
		case ptr != "" && !strings.HasPrefix(ptr, "/"):
			return nil, guest.Fail(guest.ReasonInvalidParam, "param %q: %q is not a JSON pointer: it starts with / (e.g. /data/id), or is empty for the whole body", paramJSONResults, ptr)
		}
	}
	return &c, nil
}

// mergeHeaders joins the headers param and the files of the headers
// workspace; a header in both is an error. Values from the workspace
// (credentials) never appear in a message.
func mergeHeaders(params map[string]string, req *hostabi.Request) (map[string][]string, error) {
	h := map[string][]string{}
	for name, v := range params {
		h[strings.ToLower(name)] = []string{v}
	}
	i := slices.IndexFunc(req.Workspaces, func(w hostabi.Workspace) bool { return w.Name == headersWorkspace })
	if i < 0 {
		return h, nil
	}
	dir := req.Workspaces[i].Path
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, guest.Fail(reasonRequestFailed, "reading the %s workspace: %v", headersWorkspace, err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") { // a Secret volume's ..data and its timestamped directory
			continue
		}
		if _, dup := h[strings.ToLower(name)]; dup {
			return nil, guest.Fail(guest.ReasonInvalidParam, "header %s is both in param %q and in the %s workspace; keep one", name, paramHeaders, headersWorkspace)
		}
		v, err := readValue(path.Join(dir, name))
		if err != nil {
			return nil, guest.Fail(reasonRequestFailed, "reading header %s from the %s workspace: %v", name, headersWorkspace, err)
		}
		h[strings.ToLower(name)] = []string{v}
	}
	return h, nil
}

// readValue reads a header value from a file, at most
// MaxHTTPRequestHeaderBytes of it, without its trailing newline.
func readValue(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, hostabi.MaxHTTPRequestHeaderBytes+1))
	switch {
	case err != nil:
		return "", err
	case len(b) > hostabi.MaxHTTPRequestHeaderBytes:
		return "", fmt.Errorf("the file is over %d bytes", hostabi.MaxHTTPRequestHeaderBytes)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// statusRange is the statuses from lo to hi.
type statusRange struct{ lo, hi int }

// parseExpect parses expectStatus: statuses (200) and classes (2xx),
// separated by commas.
func parseExpect(s string) ([]statusRange, error) {
	var out []statusRange
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(strings.ToLower(item))
		if len(item) == 3 && item[0] >= '1' && item[0] <= '5' && item[1:] == "xx" {
			lo := int(item[0]-'0') * 100
			out = append(out, statusRange{lo, lo + 99})
			continue
		}
		n, err := strconv.Atoi(item)
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("%q is not a status (200) or a class (2xx); write e.g. 200,201 or 2xx", item)
		}
		out = append(out, statusRange{n, n})
	}
	return out, nil
}

func matches(rs []statusRange, status int) bool {
	return slices.ContainsFunc(rs, func(r statusRange) bool { return r.lo <= status && status <= r.hi })
}

// pick evaluates each JSON pointer of jsonResults in body: a string
// value is the result as it is, any other value its JSON.
func pick(body []byte, pointers map[string]string) ([]hostabi.Result, error) {
	if len(pointers) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("its body is not JSON (%v), so param %q has nothing to pick from", err, paramJSONResults)
	}
	var out []hostabi.Result
	for _, name := range slices.Sorted(maps.Keys(pointers)) {
		v, err := lookup(doc, pointers[name])
		if err != nil {
			return nil, fmt.Errorf("result %q: %v", name, err)
		}
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("result %q: %v", name, err)
			}
			s = string(b)
		}
		out = append(out, hostabi.Result{Name: name, Value: s})
	}
	return out, nil
}

// lookup evaluates the JSON pointer ptr (RFC 6901) in doc.
func lookup(doc any, ptr string) (any, error) {
	if ptr == "" {
		return doc, nil
	}
	v := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n := v.(type) {
		case map[string]any:
			next, ok := n[tok]
			if !ok {
				return nil, fmt.Errorf("the body has nothing at %s", ptr)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) || (len(tok) > 1 && tok[0] == '0') {
				return nil, fmt.Errorf("the body has nothing at %s", ptr)
			}
			v = n[i]
		default:
			return nil, fmt.Errorf("the body has nothing at %s", ptr)
		}
	}
	return v, nil
}

// origin is the scheme and host of a URL, what a message shows of it:
// a path or query may hold a secret (a webhook's token).
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the URL"
	}
	return u.Scheme + "://" + u.Host
}

// excerpt is the start of a body for a message.
func excerpt(b []byte) string {
	if len(b) <= bodyExcerptBytes {
		return string(b)
	}
	b = b[:bodyExcerptBytes]
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(b) + "…"
}
