// Package guestrs tests the Rust SDK from `go test ./...`, so that `make
// test` covers the crate: its own unit tests (cargo test, natively, with
// Debian's toolchain), and its probe example built for wasm32-wasi and run
// in the host's engine. The Rust example plugin (plugins/wait-rust) runs
// the rest of the SDK through the engine.
package guestrs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/probetest"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
)

// cargo runs Debian's cargo (not a rustup one earlier on PATH) in this
// directory.
func cargo(t *testing.T, args ...string) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/cargo"); err != nil {
		t.Fatal("Debian's cargo is not installed; run hack/deps.sh (Debian packages cargo, librust-serde-json-dev, librust-serde-derive-dev)")
	}
	cmd := exec.Command("/usr/bin/cargo", append(args, "--offline", "--quiet")...)
	cmd.Env = append(os.Environ(), "RUSTC=/usr/bin/rustc", "RUSTDOC=/usr/bin/rustdoc")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cargo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestCargo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the crate with cargo")
	}
	cargo(t, "test")
}

// TestProbe runs the probe example in the host's engine, granted the
// HTTP and Kubernetes capabilities as the controller grants them (without
// the Kubernetes grant it does not load): a panic in the handler is
// a Failed response with reason Panicked, and the panic is in the log;
// http_request reaches an allowed host, sends the method, a header and
// the body, and reads the status, the headers and the body; a host the
// manifest does not allow is ERRNO_DENIED with the host's message;
// kubernetes_request creates an object through the test apiserver with
// its body and field manager and reads the status and the body, a verb
// outside the rules is ERRNO_DENIED, and a call the host serves no
// session is ERRNO_NOT_CAPABLE.
func TestProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the crate with cargo")
	}
	cargo(t, "build", "--target", "wasm32-wasi", "--example", "probe") // debug: quicker to build
	wasm, err := os.ReadFile(filepath.Join("target", "wasm32-wasi", "debug", "examples", "probe.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	probetest.NeedsKubernetesGrant(t, wasm)
	p := probetest.Compile(t, wasm)
	url, client := probetest.Server(t)
	session := probetest.Kubernetes(t)
	invokeWith := func(kube *kubecap.Session, name, value string) (*hostabi.Response, string) {
		var log bytes.Buffer
		req := &hostabi.Request{ABIVersion: hostabi.Version, Attempt: 1, Params: []hostabi.Param{{Name: name, Value: hostabi.StringValue(value)}}}
		resp, err := p.Invoke(context.Background(), req, engine.Invocation{Log: &log, HTTP: client, Kubernetes: kube})
		if err != nil {
			t.Fatal(err)
		}
		return resp, log.String()
	}
	invoke := func(name, value string) (*hostabi.Response, string) {
		return invokeWith(session(), name, value)
	}
	if got, log := invoke("echo", "é"); got.Status != hostabi.StatusSucceeded || len(got.Results) != 1 || got.Results[0].Value != "é" {
		t.Errorf("echo answered %+v; log:\n%s", got, log)
	}
	got, log := invoke("panic", "boom")
	want := &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusFailed, Reason: "Panicked", Message: "the plugin panicked: boom"}
	if !reflect.DeepEqual(got, want) || !strings.Contains(log, "panicked at 'boom'") {
		t.Errorf("a panic answered %+v with log %q; want %+v and the panic in the log", got, log, want)
	}

	got, log = invoke("url", url+"/x")
	want = &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded,
		Results: []hostabi.Result{{Name: "status", Value: "418"}, {Name: "type", Value: "text/x-probe"}, {Name: "body", Value: "POST 1 ping"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("an allowed request answered %+v, want %+v; log:\n%s", got, want, log)
	}
	got, log = invoke("url", "http://denied.example/")
	if got.Status != hostabi.StatusFailed || got.Reason != "HTTPErrno3" || !strings.Contains(got.Message, "denied.example") {
		t.Errorf("a request to a host not allowed answered %+v; want Failed, HTTPErrno3 (EDENIED), the host's message; log:\n%s", got, log)
	}

	got, log = invoke("kube", "create")
	want = &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded,
		Results: []hostabi.Result{{Name: "status", Value: "201"}, {Name: "body", Value: `POST /api/v1/namespaces/ns/configmaps?fieldManager=probe {"metadata":{"name":"cm"}}`}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("a create answered %+v, want %+v; log:\n%s", got, want, log)
	}
	got, log = invoke("kube", "get")
	if got.Status != hostabi.StatusFailed || got.Reason != "KubernetesErrno3" || !strings.Contains(got.Message, "no rule of") {
		t.Errorf("a get outside the rules answered %+v; want Failed, KubernetesErrno3 (EDENIED), the host's message; log:\n%s", got, log)
	}
	got, log = invokeWith(nil, "kube", "create")
	if got.Status != hostabi.StatusFailed || got.Reason != "KubernetesErrno8" || !strings.Contains(got.Message, "the host serves no Kubernetes") {
		t.Errorf("a request without a session answered %+v; want Failed, KubernetesErrno8 (ENOTCAPABLE), the host's message; log:\n%s", got, log)
	}
}
