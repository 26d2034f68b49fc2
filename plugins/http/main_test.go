package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
	"github.com/tekton-wasm/tekton-wasm/plugins/internal/plugintest"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
)

func request(params ...hostabi.Param) *hostabi.Request {
	return &hostabi.Request{
		ABIVersion: hostabi.Version,
		Run:        hostabi.RunIdentity{Name: "http-run", Namespace: "default"},
		APIVersion: "http.tekton-wasm.dev/v1alpha1",
		Kind:       "HTTPRequest",
		Params:     params,
		Attempt:    1,
	}
}

func str(name, v string) hostabi.Param {
	return hostabi.Param{Name: name, Value: hostabi.StringValue(v)}
}
func obj(name string, kv ...string) hostabi.Param {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return hostabi.Param{Name: name, Value: hostabi.ObjectValue(m)}
}

// fake answers with status and body, and records the request it got.
type fake struct {
	status int
	body   string
	err    error
	got    *guest.HTTPRequest
}

func (f *fake) do(r *guest.HTTPRequest) (*guest.HTTPResponse, error) {
	f.got = r
	if f.err != nil {
		return nil, f.err
	}
	return &guest.HTTPResponse{Status: f.status, Body: []byte(f.body)}, nil
}

func results(resp *hostabi.Response) map[string]string {
	m := map[string]string{}
	for _, r := range resp.Results {
		m[r.Name] = r.Value
	}
	return m
}

func TestRun(t *testing.T) {
	f := &fake{status: 201, body: `{"data":{"id":7,"name":"x","tags":["a","b"]},"a/b":{"~":true}}`}
	resp, err := run(request(str("url", "https://hooks.example.com/t/SECRET?token=s"), str("method", "POST"), str("body", "{}"),
		obj("headers", "Content-Type", "application/json"), str("expectStatus", "200, 201"),
		obj("jsonResults", "id", "/data/id", "name", "/data/name", "tags", "/data/tags", "esc", "/a~1b/~0", "first", "/data/tags/0")), f.do)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"status": "201", "body": f.body, "id": "7", "name": "x", "tags": `["a","b"]`, "esc": "true", "first": "a"}
	if got := results(resp); !reflect.DeepEqual(got, want) {
		t.Errorf("results %v, want %v", got, want)
	}
	if resp.Status != hostabi.StatusSucceeded || resp.Message != "POST https://hooks.example.com answered 201" {
		t.Errorf("response %s %q", resp.Status, resp.Message)
	}
	if f.got.Method != "POST" || string(f.got.Body) != "{}" || f.got.Header["content-type"][0] != "application/json" {
		t.Errorf("request %+v", f.got)
	}

	// Defaults: GET, 2xx.
	f = &fake{status: 204}
	if resp, err := run(request(str("url", "http://x.example.com/")), f.do); err != nil || f.got.Method != "GET" || results(resp)["status"] != "204" {
		t.Errorf("defaults: %v %+v", err, f.got)
	}

	// A body over the result limit is left out of the results, and said so.
	f = &fake{status: 200, body: strings.Repeat("x", hostabi.MaxResultValueBytes+1)}
	resp, err = run(request(str("url", "http://x.example.com/")), f.do)
	if _, ok := results(resp)["body"]; err != nil || ok || !strings.Contains(resp.Message, "is not in the body result") {
		t.Errorf("large body: %v %q", err, resp.Message)
	}
}

func TestRunFailures(t *testing.T) {
	u := str("url", "https://hooks.example.com/t/SECRET")
	_, err := run(request(u), (&fake{err: &guest.HTTPError{Errno: hostabi.ErrnoDenied, Message: "https://hooks.example.com is not allowed: ..."}}).do)
	plugintest.WantFail(t, err, "HostNotAllowed", "is not allowed")
	_, err = run(request(u), (&fake{err: &guest.HTTPError{Errno: hostabi.ErrnoIO, Message: "connection refused"}}).do)
	plugintest.WantFail(t, err, "RequestFailed", "GET https://hooks.example.com: connection refused")
	_, err = run(request(u), (&fake{status: 404, body: "no such hook"}).do)
	plugintest.WantFail(t, err, "UnexpectedStatus", "answered 404; expected 2xx", "no such hook")
	_, err = run(request(u, str("expectStatus", "2xx,404")), (&fake{status: 500}).do)
	plugintest.WantFail(t, err, "UnexpectedStatus", "expected 2xx,404")
	_, err = run(request(u, obj("jsonResults", "id", "/id")), (&fake{status: 200, body: "<html>"}).do)
	plugintest.WantFail(t, err, "RequestFailed", "body is not JSON")
	_, err = run(request(u, obj("jsonResults", "id", "/items/1")), (&fake{status: 200, body: `{"items":[1]}`}).do)
	plugintest.WantFail(t, err, "RequestFailed", `result "id": the body has nothing at /items/1`)

	for _, tc := range []struct {
		params []hostabi.Param
		reason string
		msg    string
	}{
		{nil, "MissingParam", `param "url" is required`},
		{[]hostabi.Param{u, str("colour", "red")}, "UnexpectedParams", "unexpected params: [colour]"},
		{[]hostabi.Param{u, str("expectStatus", "ok")}, "InvalidParam", `"ok" is not a status`},
		{[]hostabi.Param{u, str("expectStatus", "6xx")}, "InvalidParam", `"6xx" is not a status`},
		{[]hostabi.Param{u, str("headers", "a")}, "InvalidParam", `param "headers" must be an object`},
		{[]hostabi.Param{u, obj("jsonResults", "status", "/x")}, "InvalidParam", "a result of its own"},
		{[]hostabi.Param{u, obj("jsonResults", "a b", "/x")}, "InvalidParam", "cannot name a result"},
		{[]hostabi.Param{u, obj("jsonResults", "id", "x")}, "InvalidParam", "is not a JSON pointer"},
	} {
		f := &fake{status: 200}
		_, err := run(request(tc.params...), f.do)
		plugintest.WantFail(t, err, tc.reason, tc.msg)
		if f.got != nil {
			t.Errorf("%v: a request was sent", tc.params)
		}
	}
}

func TestHeadersWorkspace(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Authorization"), []byte("Bearer s3cret\n"), 0o600)
	os.Mkdir(filepath.Join(dir, "..data"), 0o700)
	req := request(str("url", "https://x.example.com/"), obj("headers", "Accept", "application/json"))
	req.Workspaces = []hostabi.Workspace{{Name: "headers", Path: dir, ReadOnly: true}}
	f := &fake{status: 200}
	if _, err := run(req, f.do); err != nil {
		t.Fatal(err)
	}
	if got := f.got.Header; got["authorization"][0] != "Bearer s3cret" || got["accept"][0] != "application/json" || len(got) != 2 {
		t.Errorf("headers %v", got)
	}
	// A header in both: an error that does not show the secret.
	req.Params = append(req.Params[:1], obj("headers", "authorization", "x"))
	_, err := run(req, (&fake{status: 200}).do)
	plugintest.WantFail(t, err, "InvalidParam", "header Authorization is both in param")
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the message shows the secret: %v", err)
	}
}

// TestPlugin runs the built plugin in the host's engine against a local
// server, with the HTTP capability as tkn-wasm and the controller give
// it.
func TestPlugin(t *testing.T) {
	p := plugintest.Load(t, ".")
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, other.URL, http.StatusFound)
		case "/missing":
			http.NotFound(w, r)
		default:
			fmt.Fprintf(w, `{"method":%q,"auth":%q}`, r.Method, r.Header.Get("Authorization"))
		}
	}))
	defer s.Close()
	host := strings.TrimPrefix(s.URL, "http://")
	client := func(entries ...string) engine.Invocation {
		pol, err := p.Manifest.Capabilities.HTTP.Policy(nil, entries...)
		if err != nil {
			t.Fatal(err)
		}
		c, err := httpcap.New(pol, httpcap.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return engine.Invocation{HTTP: c}
	}

	resp := p.InvokeWith(t, request(str("url", s.URL+"/x"), str("method", "PUT"), obj("jsonResults", "method", "/method")), client(host))
	if got := results(resp); resp.Status != hostabi.StatusSucceeded || got["status"] != "200" || got["method"] != "PUT" {
		t.Fatalf("%s/%s %q: %v", resp.Status, resp.Reason, resp.Message, got)
	}
	// As shipped, the manifest allows no host.
	resp = p.InvokeWith(t, request(str("url", s.URL+"/x")), client())
	if resp.Reason != "HostNotAllowed" || !strings.Contains(resp.Message, `add "`+host+`"`) {
		t.Errorf("no host allowed: %s %q", resp.Reason, resp.Message)
	}
	resp = p.InvokeWith(t, request(str("url", s.URL+"/redirect")), client(host))
	u, _ := url.Parse(other.URL)
	if resp.Reason != "HostNotAllowed" || !strings.Contains(resp.Message, "redirected to http://"+u.Host) {
		t.Errorf("redirect to another host: %s %q", resp.Reason, resp.Message)
	}
	resp = p.InvokeWith(t, request(str("url", s.URL+"/missing")), client(host))
	if resp.Reason != "UnexpectedStatus" || !strings.Contains(resp.Message, "answered 404") {
		t.Errorf("404: %s %q", resp.Reason, resp.Message)
	}
	// The module imports http_request: without the manifest's grant it
	// does not load.
	e, err := engine.New(context.Background(), engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	if _, err := e.Compile(context.Background(), p.Wasm, engine.Limits{}); err == nil || !strings.Contains(err.Error(), "tekton.http_request, which needs the http capability") {
		t.Errorf("compiled without the http grant: %v", err)
	}
}
