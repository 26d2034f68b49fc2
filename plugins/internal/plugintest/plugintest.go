// Package plugintest loads a first-party plugin for its tests the way it
// ships: it reads and validates the plugin's plugin.yaml, builds the
// module with the Makefile's command (Go or C, through internal/wasmtest),
// and compiles it in the host's engine (runtime/engine) under the
// manifest's limits and capability grants. Tests then invoke it exactly
// as the controller does, so they check the shipped module and its
// manifest, not only the plugin's logic.
package plugintest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// invokeTimeout bounds one invocation in a test.
const invokeTimeout = time.Minute

// Plugin is a plugin built from its directory and compiled.
type Plugin struct {
	// Manifest is the plugin's plugin.yaml.
	Manifest manifest.Manifest
	// Wasm is the module as the Makefile builds it.
	Wasm []byte

	compiled *engine.CompiledPlugin
	// raw runs InvokeRaw's plain WASI sandbox, created on first use.
	raw struct {
		rt  wazero.Runtime
		mod wazero.CompiledModule
	}
}

// Load builds the plugin in dir (a test passes ".") and compiles it. The
// test fails if plugin.yaml is not a valid manifest whose name is the
// directory's and whose module is <name>.wasm, or if the module does not
// build or compile. Cleanup releases it.
func Load(t testing.TB, dir string) *Plugin {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := &Plugin{Manifest: readManifest(t, abs)}
	if sources, _ := filepath.Glob(filepath.Join(abs, "*.c")); len(sources) > 0 {
		p.Wasm = wasmtest.CPlugin(t, abs)
	} else {
		p.Wasm = wasmtest.GoPlugin(t, abs)
	}

	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close(ctx)
		if p.raw.rt != nil {
			p.raw.rt.Close(ctx)
		}
	})
	limits := engine.Limits{MemoryBytes: p.Manifest.Limits.MemoryBytes(), Grants: engine.Grants{HTTP: p.Manifest.Capabilities.HTTP != nil}}
	if p.compiled, err = e.Compile(ctx, p.Wasm, limits); err != nil {
		t.Fatalf("compiling %s: %v", p.Manifest.Module, err)
	}
	return p
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
func (p *Plugin) Invoke(t testing.TB, req *hostabi.Request) *hostabi.Response {
	t.Helper()
	return p.InvokeWith(t, req, engine.Invocation{})
}

// InvokeWith is Invoke with the host's capabilities and mounts of inv
// (its Log is the test's).
func (p *Plugin) InvokeWith(t testing.TB, req *hostabi.Request, inv engine.Invocation) *hostabi.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	var log bytes.Buffer
	inv.Log = &log
	resp, err := p.compiled.Invoke(ctx, req, inv)
	if err != nil {
		t.Fatalf("invoking %s: %v\nlog:\n%s", p.Manifest.Name, err, log.Bytes())
	}
	return resp
}

// InvokeRaw runs the plugin once with stdin as its input, which need not
// be a valid request (the engine only sends valid ones), in a fresh
// instance of a plain WASI sandbox with the manifest's memory limit. The
// test fails unless the plugin exits 0 with a response the host accepts.
func (p *Plugin) InvokeRaw(t testing.TB, stdin []byte) *hostabi.Response {
	t.Helper()
	ctx := context.Background()
	if p.raw.rt == nil {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
			WithCloseOnContextDone(true).
			WithMemoryLimitPages(uint32(p.Manifest.Limits.MemoryBytes()>>16)))
		wasi_snapshot_preview1.MustInstantiate(ctx, rt)
		mod, err := rt.CompileModule(ctx, p.Wasm)
		if err != nil {
			rt.Close(ctx)
			t.Fatalf("compiling %s: %v", p.Manifest.Module, err)
		}
		p.raw.rt, p.raw.mod = rt, mod
	}
	ctx, cancel := context.WithTimeout(ctx, invokeTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	mod, err := p.raw.rt.InstantiateModule(ctx, p.raw.mod, wazero.NewModuleConfig().WithName("").
		WithStdin(bytes.NewReader(stdin)).WithStdout(&stdout).WithStderr(&stderr).
		WithSysWalltime().WithSysNanotime())
	if exit := (*sys.ExitError)(nil); err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
		t.Fatalf("running %s: %v\nstderr:\n%s", p.Manifest.Name, err, stderr.Bytes())
	}
	if mod != nil {
		mod.Close(ctx)
	}
	resp, err := hostabi.ParseResponse(stdout.Bytes())
	if err != nil {
		t.Fatalf("the host refuses the response of %s: %v\nstdout:\n%s\nstderr:\n%s", p.Manifest.Name, err, stdout.Bytes(), stderr.Bytes())
	}
	return resp
}
