// Package plugintest loads a first-party plugin for its tests the way it
// ships: it reads and validates the plugin's plugin.yaml, builds the
// module with the Makefile's command (Go, C or Rust, through internal/wasmtest),
// and compiles it in the host's engine (runtime/engine) under the
// manifest's limits and capability grants. Tests then invoke it exactly
// as the controller does, commands and reactors alike, so they check the
// shipped module and its manifest, not only the plugin's logic; malformed
// input goes through the same engine (engine.CompiledPlugin.InvokeRaw).
package plugintest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// invokeTimeout bounds one invocation in a test.
const invokeTimeout = time.Minute

// Harness is a first-party plugin built from its directory and compiled
// in an engine of its own, for one test (or benchmark) to invoke. Its
// methods may be called from any goroutine of the test; the test's
// Cleanup closes it.
type Harness struct {
	// Manifest is the plugin's plugin.yaml.
	Manifest manifest.Manifest
	// Wasm is the module as the Makefile builds it.
	Wasm []byte

	compiled *engine.CompiledPlugin
}

// Load builds the plugin in dir (a test passes ".") and compiles it. The
// test fails if plugin.yaml is not a valid manifest whose name is the
// directory's and whose module is <name>.wasm, or if the module does not
// build or compile. Cleanup releases it.
func Load(t testing.TB, dir string) *Harness {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := &Harness{Manifest: readManifest(t, abs)}
	if sources, _ := filepath.Glob(filepath.Join(abs, "*.c")); len(sources) > 0 {
		p.Wasm = wasmtest.CPlugin(t, abs)
	} else if _, err := os.Stat(filepath.Join(abs, "Cargo.toml")); err == nil {
		p.Wasm = wasmtest.RustPlugin(t, abs)
	} else {
		p.Wasm = wasmtest.GoPlugin(t, abs)
	}
	p.compile(t)
	return p
}

// Variant is the plugin built another way (say, as a command where the
// Makefile builds a reactor): the same manifest, module wasm, compiled in
// an engine of its own. Cleanup releases it.
func (p *Harness) Variant(t testing.TB, wasm []byte) *Harness {
	t.Helper()
	v := &Harness{Manifest: p.Manifest, Wasm: wasm}
	v.compile(t)
	return v
}

// compile compiles p.Wasm under p.Manifest's limits.
func (p *Harness) compile(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	limits := engine.Limits{MemoryBytes: p.Manifest.Limits.MemoryBytes(), Grants: engine.Grants{HTTP: p.Manifest.Capabilities.HTTP != nil, Kubernetes: p.Manifest.Capabilities.GrantsKubernetes()}}
	if p.compiled, err = e.Compile(ctx, p.Wasm, limits); err != nil {
		t.Fatalf("compiling %s: %v", p.Manifest.Module, err)
	}
}

func readManifest(t testing.TB, dir string) manifest.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.Manifest
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		t.Fatalf("plugin.yaml: %v", err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("plugin.yaml: %v", err)
	}
	if name := filepath.Base(dir); m.Name != name || m.Module != name+".wasm" {
		t.Fatalf("plugin.yaml: name %q and module %q must be %q and %q, as the Makefile builds bin/plugins/%[4]s", m.Name, m.Module, name, name+".wasm")
	}
	return m
}

// Invoke runs req in a fresh instance, as the host does, and returns the
// response: the plugin's own, or a host failure (hostabi.Reason*) saying
// how it misbehaved. The plugin's log is quoted if the invocation fails.
func (p *Harness) Invoke(t testing.TB, req *hostabi.Request) *hostabi.Response {
	t.Helper()
	return p.InvokeWith(t, req, engine.Invocation{})
}

// InvokeWith is Invoke with the host's capabilities and mounts of inv
// (its Log is the test's).
func (p *Harness) InvokeWith(t testing.TB, req *hostabi.Request, inv engine.Invocation) *hostabi.Response {
	t.Helper()
	resp, _ := p.call(t, inv, func(ctx context.Context, inv engine.Invocation) (*hostabi.Response, error) {
		return p.compiled.Invoke(ctx, req, inv)
	})
	return resp
}

// InvokeRaw runs the plugin once, as Invoke does, with stdin as its input,
// which need not be a valid request (the host only sends valid ones). The
// test fails unless the response is the plugin's own: a host failure (the
// plugin exited, trapped, or wrote an invalid response) fails it with the
// host's message and the plugin's log.
func (p *Harness) InvokeRaw(t testing.TB, stdin []byte) *hostabi.Response {
	t.Helper()
	resp, log := p.call(t, engine.Invocation{}, func(ctx context.Context, inv engine.Invocation) (*hostabi.Response, error) {
		return p.compiled.InvokeRaw(ctx, stdin, inv)
	})
	if resp.Status == hostabi.StatusFailed && hostabi.Reserved(resp.Reason) {
		t.Fatalf("the host failed %s: %s: %s\nlog:\n%s", p.Manifest.Name, resp.Reason, resp.Message, log)
	}
	return resp
}

// call makes one invocation with inv under invokeTimeout and returns its
// response and the plugin's log; the test fails if the plugin was stopped.
func (p *Harness) call(t testing.TB, inv engine.Invocation, invoke func(context.Context, engine.Invocation) (*hostabi.Response, error)) (*hostabi.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	var log bytes.Buffer
	inv.Log = &log
	resp, err := invoke(ctx, inv)
	if err != nil {
		t.Fatalf("invoking %s: %v\nlog:\n%s", p.Manifest.Name, err, log.Bytes())
	}
	return resp, log.Bytes()
}

// WantFail fails t unless err is a *guest.Error (what a handler returns
// with guest.Fail) with reason, whose message contains every one of
// parts: for tests of a plugin's handler, called without the engine.
func WantFail(t testing.TB, err error, reason string, parts ...string) {
	t.Helper()
	var e *guest.Error
	if !errors.As(err, &e) || e.Reason != reason {
		t.Fatalf("error %v, want reason %s", err, reason)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("message %q does not say %q", e.Message, p)
		}
	}
}
