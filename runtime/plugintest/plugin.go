package plugintest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"sigs.k8s.io/yaml"
)

// ManifestFile is a plugin directory's manifest.
const ManifestFile = "plugin.yaml"

// Options say where the module under test is and how to run it.
type Options struct {
	// Wasm is the module; nil: the file Module names.
	Wasm []byte
	// Module is the module's file (raw, gzip or zstd); "": the module
	// plugin.yaml names, relative to the plugin directory.
	Module string
	// CacheDir is the engine's compilation cache; "": none.
	CacheDir string
	// AllowHosts are hosts the plugin may reach besides those its
	// manifest allows (--allow-host).
	AllowHosts []string
	// Warn receives warnings about the plugin's grants; nil discards them.
	Warn io.Writer
}

// Plugin is the plugin of a directory, compiled in an engine of its own,
// ready to run cases. Close releases it.
type Plugin struct {
	// Manifest is the directory's plugin.yaml.
	Manifest *manifest.Manifest
	// Wasm is the module, uncompressed.
	Wasm []byte

	eng      *engine.Engine
	compiled *engine.CompiledPlugin
	served   local.Served
}

// Open reads dir's plugin.yaml and module and compiles the module under
// the manifest's limits and grants, as tkn-wasm run does. Its errors are
// about its input: the manifest, the module, the flags.
func Open(ctx context.Context, dir string, o Options) (*Plugin, error) {
	p, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	wasm := o.Wasm
	if wasm == nil {
		wasm, err = readModule(dir, p, o.Module)
		if err != nil {
			return nil, err
		}
	}
	warn := o.Warn
	if warn == nil {
		warn = io.Discard
	}
	grants, served, err := local.Capabilities{AllowHosts: o.AllowHosts}.Grant(p, warn)
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(ctx, engine.Config{CacheDir: o.CacheDir})
	if err != nil {
		return nil, fmt.Errorf("starting the engine: %w", err)
	}
	compiled, err := eng.Compile(ctx, wasm, engine.Limits{MemoryBytes: p.Limits.MemoryBytes(), Grants: grants})
	if err != nil {
		eng.Close(context.Background())
		return nil, fmt.Errorf("plugin %q: module %s: %w", p.Name, p.Module, err)
	}
	return &Plugin{Manifest: p, Wasm: wasm, eng: eng, compiled: compiled, served: served}, nil
}

// ReadManifest reads and validates dir/plugin.yaml.
func ReadManifest(dir string) (*manifest.Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := boundedread.Open(path, manifest.MaxConfigMapBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the plugin's manifest: %w (a plugin directory has a %s; see docs/plugins.md)", err, ManifestFile)
	}
	var p manifest.Manifest
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return nil, fmt.Errorf("%s is not a plugin manifest: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// readModule reads the module at path, or the one p names in dir.
func readModule(dir string, p *manifest.Manifest, path string) ([]byte, error) {
	if path == "" {
		b, err := manifest.ReadModule(dir, p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w; build the plugin first, or give its module with --plugin", err)
		}
		return b, err
	}
	b, err := boundedread.Open(path, wasmmodule.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the module: %w", err)
	}
	return p.Decode(b)
}

// Close releases the plugin's engine.
func (p *Plugin) Close(ctx context.Context) error { return p.eng.Close(ctx) }

// Result is a case's outcome.
type Result struct {
	Case *Case
	// Run is the CustomRun as it ended.
	Run *v1beta1.CustomRun
	// Diffs are the differences from what the case expects; none: it
	// passed.
	Diffs []string
	// Log is the plugin's log, each line prefixed as by tkn-wasm run.
	Log []byte
	// Took is the run's wall time.
	Took time.Duration
}

// Passed says whether the run ended as the case expects.
func (r *Result) Passed() bool { return len(r.Diffs) == 0 }

// Run runs the case's CustomRun to its end with the plugin, through the
// runner of tkn-wasm run, and compares the end with the case. Interrupting
// ctx cancels the run (which then ends CustomRunCancelled). The error is
// about the run's surroundings (a workspace that cannot be prepared), not
// the run.
func (p *Plugin) Run(ctx context.Context, c *Case) (*Result, error) {
	var log bytes.Buffer
	run := c.NewRun()
	runner := local.NewRunner(p.Manifest, p.compiled, p.served, &log, &workspace.Local{Bindings: c.bindings})
	start := time.Now()
	if err := runner.Run(ctx, run); err != nil {
		return nil, fmt.Errorf("%s: %w", c.File, err)
	}
	return &Result{Case: c, Run: run, Diffs: c.Check(run), Log: log.Bytes(), Took: time.Since(start)}, nil
}
