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

// A panic in the handler is a Failed response with reason Panicked, and
// the panic is in the log.
func TestPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the crate with cargo")
	}
	cargo(t, "build", "--target", "wasm32-wasi", "--example", "probe") // debug: quicker to build
	wasm, err := os.ReadFile(filepath.Join("target", "wasm32-wasi", "debug", "examples", "probe.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	p, err := e.Compile(ctx, wasm, engine.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	invoke := func(name, value string) (*hostabi.Response, string) {
		var log bytes.Buffer
		req := &hostabi.Request{ABIVersion: hostabi.Version, Attempt: 1, Params: []hostabi.Param{{Name: name, Value: hostabi.StringValue(value)}}}
		resp, err := p.Invoke(ctx, req, engine.Invocation{Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		return resp, log.String()
	}
	if got, log := invoke("echo", "é"); got.Status != hostabi.StatusSucceeded || len(got.Results) != 1 || got.Results[0].Value != "é" {
		t.Errorf("echo answered %+v; log:\n%s", got, log)
	}
	got, log := invoke("panic", "boom")
	want := &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusFailed, Reason: "Panicked", Message: "the plugin panicked: boom"}
	if !reflect.DeepEqual(got, want) || !strings.Contains(log, "panicked at 'boom'") {
		t.Errorf("a panic answered %+v with log %q; want %+v and the panic in the log", got, log, want)
	}
}
