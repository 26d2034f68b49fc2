// Package csdktest tests the C SDK (sdk/c) through the host's engine: a
// probe plugin (probe/probe.c, a reactor) answers what its params ask
// for, and each case checks the response the host reads. The SDK's JSON
// reader and the request side are tested by plugins/semver too.
package csdktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/apiservertest"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// compile builds the probe with the SDK, as the Makefile builds a C
// plugin, and compiles it under grants in an engine of the test's own.
func compile(t *testing.T, grants engine.Grants) (*engine.CompiledPlugin, error) {
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	return e.Compile(ctx, wasmtest.CPlugin(t, "probe"), engine.Limits{Grants: grants})
}

// load compiles the probe granted both capabilities; each invocation's
// HTTP client may reach allow, and its Kubernetes session is kube's (nil
// kube: none).
func load(t *testing.T, kube func() *kubecap.Session, allow ...string) func(*hostabi.Request) *hostabi.Response {
	ctx := context.Background()
	p, err := compile(t, engine.Grants{HTTP: true, Kubernetes: true})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := (&manifest.HTTPCapability{Allow: allow}).Policy(nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := httpcap.New(pol, httpcap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return func(req *hostabi.Request) *hostabi.Response {
		var log bytes.Buffer
		inv := engine.Invocation{Log: &log, HTTP: client}
		if kube != nil {
			inv.Kubernetes = kube()
		}
		resp, err := p.Invoke(ctx, req, inv)
		if err != nil {
			t.Fatalf("invoking the probe: %v\nlog:\n%s", err, log.Bytes())
		}
		return resp
	}
}

func str(name, value string) hostabi.Param {
	return hostabi.Param{Name: name, Value: hostabi.StringValue(value)}
}

func request(params ...hostabi.Param) *hostabi.Request {
	return &hostabi.Request{ABIVersion: hostabi.Version, Run: hostabi.RunIdentity{Name: "probe"}, Params: params, Attempt: 1}
}

func failed(reason, message string) *hostabi.Response {
	return &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusFailed, Reason: reason, Message: message}
}

func invalid(reason, why string) *hostabi.Response {
	return failed(reason, "the plugin returned an invalid response: "+why)
}

func TestResponses(t *testing.T) {
	invoke := load(t, nil)
	deep := strings.Repeat("[", 99) + strings.Repeat("]", 99)
	tests := []struct {
		name string
		req  *hostabi.Request
		want *hostabi.Response
	}{
		{"succeeded", request(str("reason", "Done"), str("message", "all \"good\"\n"), hostabi.Param{Name: "results", Value: hostabi.ObjectValue(map[string]string{"a": "b", "c.d": "é\x01"})}),
			&hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded, Reason: "Done", Message: "all \"good\"\n",
				Results: []hostabi.Result{{Name: "a", Value: "b"}, {Name: "c.d", Value: "é\x01"}}}},
		{"running", request(str("status", "Running"), str("reason", "Waiting"), str("requeueMs", "90500"), str("extra", ` {"n": [1, -2.5e3, "x\u0000", null, true]} `)),
			&hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusRunning, Reason: "Waiting",
				RequeueAfter: hostabi.Duration{Duration: 90500 * 1e6}, ExtraFields: []byte(`{"n":[1,-2.5e3,"x\u0000",null,true]}`)}},
		{"deepest extraFields", request(str("status", "Running"), str("requeueMs", "1000"), str("extra", deep)),
			&hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusRunning, RequeueAfter: hostabi.Duration{Duration: 1e9}, ExtraFields: []byte(deep)}},
		{"results on any status", request(str("status", "Failed"), str("reason", "Nope"), str("message", "no"), hostabi.Param{Name: "results", Value: hostabi.ObjectValue(map[string]string{"a": "b"})}),
			&hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusFailed, Reason: "Nope", Message: "no", Results: []hostabi.Result{{Name: "a", Value: "b"}}}},
		{"array param", request(str("list", "1"), hostabi.Param{Name: "items", Value: hostabi.ArrayValue("x", "y")}),
			&hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded, Results: []hostabi.Result{{Name: "items", Value: "2"}}}},
		{"missing param", request(str("list", "1")), failed("MissingParam", `param "items" is required`)},
		{"array, not string", request(hostabi.Param{Name: "reason", Value: hostabi.ArrayValue()}), failed("InvalidParam", `param "reason" must be a string, not an array`)},
		{"string, not array", request(str("list", "1"), str("items", "x")), failed("InvalidParam", `param "items" must be an array, not a string`)},
		{"unexpected params", request(str("b", "1"), str("reason", "X"), str("a", "2")),
			failed("UnexpectedParams", "unexpected params: [b a]; this plugin takes [status reason message requeueMs extra bigResult messageBytes list items results url kube]")},
		{"bad reason", request(str("reason", "not camel")), invalid("InvalidResponse", `response reason "not camel" is not a CamelCase word of at most 64 bytes`)},
		{"reserved reason", request(str("reason", "PluginExited"), str("status", "Failed")),
			invalid("InvalidResponse", `response reason "PluginExited" is reserved for the host, which sets it itself; choose a reason of the plugin's own`)},
		{"reserved word", request(str("reason", "Retrying")),
			invalid("InvalidResponse", `response reason "Retrying" is reserved for the host, which sets it itself; choose a reason of the plugin's own`)},
		{"extraFields not JSON", request(str("extra", "{")), failed("InvalidResponse", "the plugin's extraFields are not JSON: unexpected end of input looking for the beginning of an object key (at byte 1)")},
		{"extraFields too deep", request(str("extra", "["+deep+"]")), invalid("InvalidResponse", "response extraFields: arrays and objects nest deeper than 100 levels")},
		{"extraFields repeat a key", request(str("extra", `{"a":1,"b":{"c":1,"c":2}}`)), invalid("InvalidResponse", "response extraFields: a key appears twice in one object")},
		{"extraFields number out of range", request(str("extra", `[1e400]`)), invalid("InvalidResponse", "response extraFields: a number is not a finite 64-bit float")},
		{"extraFields too large", request(str("extra", `"`+strings.Repeat("\\n", 32768)+`"`)), invalid("ResultsTooLarge", "extraFields are 65538 bytes; the limit is 65536")},
		{"bad result name", request(hostabi.Param{Name: "results", Value: hostabi.ObjectValue(map[string]string{"-a": ""})}),
			invalid("ResultsTooLarge", `result name "-a" is invalid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit`)},
		{"result too large", request(str("bigResult", "16385")), invalid("ResultsTooLarge", `result "big" is 16385 bytes; the limit is 16384`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := invoke(tt.req); !reflect.DeepEqual(got, tt.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tt.want)
				t.Errorf("got  %.300s\nwant %.300s", g, w)
			}
		})
	}

	got := invoke(request(str("messageBytes", "10000")))
	if len(got.Message) > hostabi.MaxMessageBytes || !strings.HasSuffix(got.Message, "é…") || got.Status != hostabi.StatusSucceeded {
		t.Errorf("a 10000-byte message came back as %d bytes (%q...); want it cut to %d, ending in é…", len(got.Message), got.Message[:20], hostabi.MaxMessageBytes)
	}
}

// TestHTTP checks tw_http_request through the host's HTTP capability: an
// allowed host gets the method, a header and the body, and the status,
// headers and body come back; a host not allowed is TW_ERRNO_DENIED with
// the host's message.
func TestHTTP(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/x-probe")
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("X-Probe"), body)
	}))
	defer s.Close()
	invoke := load(t, nil, strings.TrimPrefix(s.URL, "http://"))
	want := &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded, Reason: "Fetched", Message: s.URL + "/x",
		Results: []hostabi.Result{{Name: "status", Value: "418"}, {Name: "type", Value: "text/x-probe"}, {Name: "body", Value: "POST 1 ping"}}}
	if got := invoke(request(str("url", s.URL+"/x"))); !reflect.DeepEqual(got, want) {
		t.Errorf("an allowed request answered %+v, want %+v", got, want)
	}
	got := invoke(request(str("url", "http://denied.example/")))
	if got.Status != hostabi.StatusFailed || got.Reason != "HTTPErrno3" || !strings.Contains(got.Message, "denied.example") {
		t.Errorf("a request to a host not allowed answered %+v; want Failed, HTTPErrno3 (EDENIED), the host's message", got)
	}
}

// TestKubernetes checks tw_kubernetes_request through the host's
// Kubernetes capability: a probe importing it does not load without the
// grant; a call the host serves no session is TW_ERRNO_NOT_CAPABLE; each
// verb reaches the test apiserver as the request the Go SDK's
// guest.DoKubernetes makes (method, path, query, content type, body), and
// the status and body come back; a verb outside the session's rules is
// TW_ERRNO_DENIED with the host's message.
func TestKubernetes(t *testing.T) {
	want := "the plugin imports tekton.kubernetes_request, which needs the kubernetes capability, and its manifest does not grant it"
	if _, err := compile(t, engine.Grants{HTTP: true}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("compiling the probe without the grant = %v, want %q", err, want)
	}

	api := apiservertest.New(t, []apiservertest.Resource{{GroupVersion: "v1", Name: "configmaps", Kind: "ConfigMap", Namespaced: true}},
		func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "%s %s?%s %s %s", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), body)
		})
	client, err := kubecap.New(&rest.Config{Host: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	rules := []kubecap.Rule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "create", "patch"}}}
	invoke := load(t, func() *kubecap.Session {
		return client.Session(rules, kubecap.Identity{Namespace: "ns"}, kubecap.Options{})
	})
	for verb, answer := range map[string]string{
		"get":    "GET /api/v1/namespaces/ns/configmaps/cm?  ",
		"list":   "GET /api/v1/namespaces/ns/configmaps?continue=c1&labelSelector=app%3Dprobe&limit=2  ",
		"create": `POST /api/v1/namespaces/ns/configmaps?fieldManager=probe application/json {"metadata":{"name":"cm"}}`,
		"patch":  `PATCH /api/v1/namespaces/ns/configmaps/cm?fieldManager=probe&force=true application/apply-patch+yaml {"data":{"a":"b"}}`,
	} {
		want := &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded, Reason: "Answered", Message: verb,
			Results: []hostabi.Result{{Name: "status", Value: "201"}, {Name: "body", Value: answer}}}
		if got := invoke(request(str("kube", verb))); !reflect.DeepEqual(got, want) {
			t.Errorf("%s answered %+v, want %+v", verb, got, want)
		}
	}
	got := invoke(request(str("kube", "delete")))
	if got.Status != hostabi.StatusFailed || got.Reason != "KubernetesErrno3" || !strings.Contains(got.Message, "no rule of") {
		t.Errorf("a delete outside the rules answered %+v; want Failed, KubernetesErrno3 (EDENIED), the host's message", got)
	}

	got = load(t, nil)(request(str("kube", "get")))
	if got.Status != hostabi.StatusFailed || got.Reason != "KubernetesErrno8" || !strings.Contains(got.Message, "the host serves no Kubernetes") {
		t.Errorf("a request without a session answered %+v; want Failed, KubernetesErrno8 (ENOTCAPABLE), the host's message", got)
	}
}
