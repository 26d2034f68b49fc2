// Package guestas tests the AssemblyScript SDK from `go test ./...`, so
// that `make test` covers it: its probe plugin (test/probe), built as the
// Makefile builds plugins and run in the host's engine, granted the HTTP
// and Kubernetes capabilities as the controller grants them. The AssemblyScript example
// plugin (plugins/wait-as) runs the rest of the SDK through the engine
// beside its Go twin.
package guestas

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/probetest"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
)

type probe struct {
	t    *testing.T
	wasm []byte
	p    *engine.CompiledPlugin
	http *httpcap.Client
	// kube gives each call its Kubernetes session; nil serves none.
	kube func() *kubecap.Session
}

func loadProbe(t *testing.T) *probe {
	wasm := wasmtest.AssemblyScriptPlugin(t, "test/probe")
	return &probe{t: t, wasm: wasm, p: probetest.Compile(t, wasm)}
}

func request(name, value string) *hostabi.Request {
	return &hostabi.Request{ABIVersion: hostabi.Version, Attempt: 1, Params: []hostabi.Param{{Name: name, Value: hostabi.StringValue(value)}}}
}

// invoke runs req and returns the response and the plugin's log.
func (p *probe) invoke(req *hostabi.Request) (*hostabi.Response, string) {
	p.t.Helper()
	var log bytes.Buffer
	inv := engine.Invocation{Log: &log, HTTP: p.http}
	if p.kube != nil {
		inv.Kubernetes = p.kube()
	}
	resp, err := p.p.Invoke(context.Background(), req, inv)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp, log.String()
}

// raw runs the probe with stdin as its input.
func (p *probe) raw(stdin string) *hostabi.Response {
	p.t.Helper()
	var log bytes.Buffer
	resp, err := p.p.InvokeRaw(context.Background(), []byte(stdin), engine.Invocation{Log: &log})
	if err != nil {
		p.t.Fatal(err)
	}
	return resp
}

func failed(reason, message string) *hostabi.Response {
	return &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusFailed, Reason: reason, Message: message}
}

func TestProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the probe with npm and asc")
	}
	p := loadProbe(t)

	t.Run("request fields", func(t *testing.T) {
		req := request("echo", "é \"q\" \\ \n \u2028 😀")
		req.Run = hostabi.RunIdentity{Name: "r", Namespace: "ns"}
		req.Attempt = 3
		req.StartTime = time.Date(2026, 3, 4, 5, 6, 7, 500, time.UTC)
		req.ExtraFields = json.RawMessage(`{"n":1.5e3,"a":[true,null,"x"],"o":{}}`)
		req.Cleanup = &hostabi.Cleanup{Reason: hostabi.CleanupCancelled}
		got, log := p.invoke(req)
		want := &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded,
			Results: []hostabi.Result{{Name: "echo", Value: "é \"q\" \\ \n \u2028 😀"}, {Name: "run", Value: "ns/r"}, {Name: "attempt", Value: "3"},
				{Name: "start", Value: fmt.Sprintf("%d.500", req.StartTime.Unix())}, {Name: "cleanup", Value: "Cancelled"}},
			ExtraFields: json.RawMessage(`{"n":1.5e3,"a":[true,null,"x"],"o":{}}`)}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v\nlog:\n%s", got, want, log)
		}
	})

	t.Run("panic", func(t *testing.T) {
		got, log := p.invoke(request("panic", "boom"))
		if got.Status != hostabi.StatusFailed || got.Reason != "Panicked" || !strings.HasPrefix(got.Message, "the plugin panicked: boom at assembly/index.ts(") ||
			!strings.Contains(log, "panic: boom") {
			t.Errorf("a throw answered %+v with log %q; want Failed, Panicked, the message and the place, and the panic in the log", got, log)
		}
	})

	t.Run("console.log goes to the log", func(t *testing.T) {
		got, log := p.invoke(request("console", "hello log"))
		if got.Status != hostabi.StatusSucceeded || log != "hello log\n" {
			t.Errorf("got %+v with log %q; want Succeeded and the line in the log", got, log)
		}
	})

	t.Run("invalid responses", func(t *testing.T) {
		for _, tt := range []struct {
			name, value string
			want        *hostabi.Response
		}{
			{"reason", "PluginFailed", failed("InvalidResponse", `the plugin returned an invalid response: response reason "PluginFailed" is reserved for the host, which sets it itself; choose a reason of the plugin's own`)},
			{"reason", "not-camel", failed("InvalidResponse", `the plugin returned an invalid response: response reason "not-camel" is not a CamelCase word of at most 64 bytes`)},
			{"results", "65", failed("ResultsTooLarge", "the plugin returned an invalid response: the plugin returned 65 results; the limit is 64")},
			{"running", "-1s", failed("InvalidResponse", "the plugin returned an invalid response: response requeueAfter -1s is negative")},
		} {
			if got, log := p.invoke(request(tt.name, tt.value)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s %s: got %+v\nwant %+v\nlog:\n%s", tt.name, tt.value, got, tt.want, log)
			}
		}
	})

	// Durations as Go reads and writes them: the probe parses its param
	// with parseDuration and answers it as requeueAfter, which the host
	// reads with time.ParseDuration; a duration Go refuses is refused with
	// Go's error text.
	t.Run("durations", func(t *testing.T) {
		for _, s := range []string{"1m30.5s", "1ns", "1.5us", "1µs", "1μs", "999ms", ".5h", "1.h", "+3s", "1h2m3.004005006s", "0", "0s",
			"2562047h47m16.854775807s", "1.0000000001s", "0.000000001s", "100000000000000000000ns"} {
			want, err := time.ParseDuration(s)
			got, log := p.invoke(request("running", s))
			if err != nil {
				if g := failed("InvalidDuration", err.Error()); !reflect.DeepEqual(got, g) {
					t.Errorf("%q: got %+v, want %+v; log:\n%s", s, got, g, log)
				}
				continue
			}
			if got.Status != hostabi.StatusRunning || got.Reason != "Waiting" || got.RequeueAfter.Duration != want {
				t.Errorf("%q: got %+v; want Running, Waiting, requeueAfter %s; log:\n%s", s, got, want, log)
			}
		}
		for _, s := range []string{"", "-", "1", "1x", "1..5s", "9223372036854775808ns", "2562047h47m16.854775808s", "1e3s", "1s2", "é"} {
			_, err := time.ParseDuration(s)
			if err == nil {
				t.Fatalf("Go parses %q", s)
			}
			got, _ := p.invoke(request("running", s))
			if want := failed("InvalidDuration", err.Error()); !reflect.DeepEqual(got, want) {
				t.Errorf("%q: got %+v, want %+v", s, got, want)
			}
		}
	})

	t.Run("invalid UTF-8 reads as U+FFFD", func(t *testing.T) {
		got := p.raw("{\"abiVersion\":\"tekton-wasm/v1\",\"params\":[{\"name\":\"echo\",\"value\":\"a\xffb\xc3\"}]}")
		if len(got.Results) == 0 || got.Results[0].Value != "a\ufffdb\ufffd" {
			t.Errorf("got %+v; want the echo a\ufffdb\ufffd", got)
		}
	})

	t.Run("times", func(t *testing.T) {
		for _, start := range []string{"2026-03-04T07:06:07.5+02:00", "2026-03-04T05:06:07Z", "1970-01-01T00:00:00.000000001Z", "1969-12-31T23:59:59-00:30", "2000-02-29T12:00:00z"} {
			want, err := time.Parse(time.RFC3339Nano, strings.ToUpper(start))
			if err != nil {
				t.Fatal(err)
			}
			got := p.raw(`{"abiVersion":"tekton-wasm/v1","params":[{"name":"echo","value":""}],"startTime":"` + start + `"}`)
			if len(got.Results) < 4 || got.Results[3].Value != fmt.Sprintf("%d.%d", want.Unix(), want.Nanosecond()) {
				t.Errorf("startTime %s: got %+v; want start %d.%d", start, got.Results, want.Unix(), want.Nanosecond())
			}
		}
		for _, start := range []string{"2026-02-29T00:00:00Z", "2026-03-04 05:06:07Z", "2026-03-04T05:06:07", "2026-03-04T24:00:00Z", "2026-03-04T05:06:07.Z", "2026-03-04T05:06:07+0200"} {
			got := p.raw(`{"abiVersion":"tekton-wasm/v1","startTime":"` + start + `"}`)
			if want := failed("InvalidRequest", `stdin is not a JSON request: field startTime is not an RFC 3339 time: "`+start+`"`); !reflect.DeepEqual(got, want) {
				t.Errorf("startTime %s: got %+v, want %+v", start, got, want)
			}
		}
	})

	t.Run("long message", func(t *testing.T) {
		got, _ := p.invoke(request("message", "ééé"))
		if len(got.Message) > hostabi.MaxMessageBytes || !strings.HasSuffix(got.Message, "é…") || len(got.Message) < hostabi.MaxMessageBytes-4 {
			t.Errorf("a 6000-byte message came back as %d bytes ending %q; want it cut to at most %d, at a character, marked with …",
				len(got.Message), got.Message[len(got.Message)-8:], hostabi.MaxMessageBytes)
		}
	})

	t.Run("malformed requests", func(t *testing.T) {
		for _, tt := range []struct{ stdin, reason, message string }{
			{"{not json", "InvalidRequest", "stdin is not a JSON request: invalid character 'n' looking for the beginning of an object key (at offset 1)"},
			{"", "InvalidRequest", "stdin is not a JSON request: unexpected end of JSON input (at offset 0)"},
			{`{"abiVersion":"tekton-wasm/v1"} {}`, "InvalidRequest", "stdin is not a JSON request: invalid character '{' after the JSON value (at offset 32)"},
			{`{"abiVersion":"tekton-wasm/v1","attempt":"1"}`, "InvalidRequest", "stdin is not a JSON request: field attempt must be an integer, not a string"},
			{`{"abiVersion":"tekton-wasm/v1","attempt":1.5}`, "InvalidRequest", "stdin is not a JSON request: field attempt must be an integer, not 1.5"},
			{`{"abiVersion":"tekton-wasm/v1","params":[{"name":"x","value":["a",1]}]}`, "InvalidRequest", "stdin is not a JSON request: field params[0].value[1] must be a string, not a number"},
			{`{"abiVersion":"tekton-wasm/v1","startTime":"yesterday"}`, "InvalidRequest", `stdin is not a JSON request: field startTime is not an RFC 3339 time: "yesterday"`},
			{`{"abiVersion":"tekton-wasm/v1","x":"\u00"}`, "InvalidRequest", `stdin is not a JSON request: invalid \u escape in string literal (at offset 38)`},
			{`{"abiVersion":"tekton-wasm/v2"}`, "UnsupportedABIVersion", `the host speaks ABI "tekton-wasm/v2" but this plugin was built for "tekton-wasm/v1"; rebuild it against the host's tekton-wasm-guest`},
			{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), "InvalidRequest", "stdin is not a JSON request: arrays and objects nest deeper than 10000 levels (at offset 10000)"},
		} {
			if got, want := p.raw(tt.stdin), failed(tt.reason, tt.message); !reflect.DeepEqual(got, want) {
				t.Errorf("stdin %.40q: got %+v\nwant %+v", tt.stdin, got, want)
			}
		}
	})

	t.Run("http", func(t *testing.T) {
		var url string
		url, p.http = probetest.Server(t)
		got, log := p.invoke(request("url", url+"/x"))
		want := &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded,
			Results: []hostabi.Result{{Name: "status", Value: "418"}, {Name: "type", Value: "text/x-probe"}, {Name: "body", Value: "POST 1 ping"}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("an allowed request answered %+v, want %+v; log:\n%s", got, want, log)
		}
		got, log = p.invoke(request("url", "http://denied.example/"))
		if got.Status != hostabi.StatusFailed || got.Reason != "HTTPErrno3" || !strings.Contains(got.Message, "denied.example") {
			t.Errorf("a request to a host not allowed answered %+v; want Failed, HTTPErrno3 (EDENIED), the host's message; log:\n%s", got, log)
		}
	})

	// The probe imports kubernetes_request, so it loads only with the
	// grant; a create reaches the test apiserver with its path, field
	// manager and body, and the status and body come back; a verb outside
	// the session's rules is ERRNO_DENIED and a call the host serves no
	// session ERRNO_NOT_CAPABLE, each with the host's message.
	t.Run("kubernetes", func(t *testing.T) {
		probetest.NeedsKubernetesGrant(t, p.wasm)
		p.kube = probetest.Kubernetes(t)
		defer func() { p.kube = nil }()

		got, log := p.invoke(request("kube", "create"))
		want := &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded,
			Results: []hostabi.Result{{Name: "status", Value: "201"}, {Name: "body", Value: `POST /api/v1/namespaces/ns/configmaps?fieldManager=probe {"metadata":{"name":"cm"}}`}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("a create answered %+v, want %+v; log:\n%s", got, want, log)
		}
		got, log = p.invoke(request("kube", "get"))
		if got.Status != hostabi.StatusFailed || got.Reason != "KubernetesErrno3" || !strings.Contains(got.Message, "no rule of") {
			t.Errorf("a get outside the rules answered %+v; want Failed, KubernetesErrno3 (EDENIED), the host's message; log:\n%s", got, log)
		}
		p.kube = nil
		got, log = p.invoke(request("kube", "create"))
		if got.Status != hostabi.StatusFailed || got.Reason != "KubernetesErrno8" || !strings.Contains(got.Message, "the host serves no Kubernetes") {
			t.Errorf("a request without a session answered %+v; want Failed, KubernetesErrno8 (ENOTCAPABLE), the host's message; log:\n%s", got, log)
		}
	})
}
