package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"
)

// MaxCustomRunBytes caps the CustomRun file (or stdin) that run reads: the
// apiserver stores objects of at most 1.5 MiB, and the YAML of one is
// rarely much larger than its stored form; the rest is headroom.
const MaxCustomRunBytes = 4 << 20

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("tkn-wasm run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		pluginPath, pluginsDir, output, cacheDir, pipelinesDir string
		kubeconfig                                             string
		files, params, workspaces, allowHosts                  multiFlag
	)
	fs.Var(&files, "f", "the CustomRun or PipelineRun YAML or JSON file (at most 4 MiB); - reads stdin; repeat it to give a PipelineRun's Pipelines")
	fs.StringVar(&pipelinesDir, "pipelines", "", "a directory of Pipeline YAML files that a PipelineRun's pipelineRef may name")
	progress := newProgressFlag(fs)
	all := fs.Bool("all", false, "with a PipelineRun: print a List of it and of each CustomRun it made, as they ended")
	fs.StringVar(&pluginPath, "plugin", "", "the plugin module (.wasm, .wasm.gz or .wasm.zst) to run, or oci://HOST/REPO@sha256:… to pull it")
	fs.StringVar(&pluginsDir, "plugins", "", "a plugin directory with an index.yaml; the run's apiVersion/kind picks the plugin")
	fs.StringVar(&output, "o", "yaml", "output format of the final CustomRun: yaml or json")
	fs.Var(&params, "param", "`name=value`: set a string param, replacing one of that name (repeatable)")
	fs.Var(&workspaces, "workspace", "`name=DIR`: bind a workspace to a local directory (repeatable)")
	fs.StringVar(&cacheDir, "cache-dir", defaultCacheDir(), "compilation cache directory; empty disables it")
	fs.Var(&allowHosts, "allow-host", "`HOST[:PORT]`: let the plugin reach this host over HTTP, besides its manifest's capabilities.http.allow (repeatable; see docs/plugins.md)")
	fs.StringVar(&kubeconfig, "kubeconfig", "", kubeconfigUsage)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: tkn-wasm run -f CUSTOMRUN.yaml (--plugin MODULE.wasm | --plugins DIR) [flags]\n"+
			"       tkn-wasm run -f PIPELINERUN.yaml [-f PIPELINE.yaml…] [--pipelines DIR] --plugins DIR [flags]\n\n"+
			"Runs the CustomRun to its end with the plugin and prints it, with its status.\n"+
			"A PipelineRun whose tasks are all plugin kinds runs the same way, task by task (docs/pipelines.md).\n"+
			"The plugin's log goes to stderr. Ctrl-C cancels the run.\n"+
			"Exit code: 0 Succeeded, 1 ended False, 2 usage or input error.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 0, usagef("%v", err)
	}
	switch {
	case fs.NArg() > 0:
		return 0, usagef("unexpected argument %q; the CustomRun is given with -f", fs.Arg(0))
	case len(files) == 0:
		return 0, usagef("no CustomRun given; use -f customrun.yaml (or -f - for stdin)")
	case (pluginPath == "") == (pluginsDir == ""):
		return 0, usagef("give exactly one of --plugin MODULE.wasm and --plugins DIR")
	case output != "yaml" && output != "json":
		return 0, usagef("-o %q is not a format; use yaml or json", output)
	}

	inputs, err := readInputs(files, stdin)
	if err != nil {
		return 0, err
	}
	caps := capabilityFlags{allowHosts: allowHosts}
	if caps.kube, caps.namespace, err = loadKubeconfig(kubeconfig); err != nil {
		return 0, err
	}
	if pipelineRunGiven(inputs) {
		return runPipelineRun(ctx, inputs, pipelineFlags{pluginPath: pluginPath, pluginsDir: pluginsDir, pipelinesDir: pipelinesDir,
			output: output, cacheDir: cacheDir, params: params, workspaces: workspaces, caps: caps, all: *all, progress: *progress}, stdout, stderr)
	}
	if len(inputs) > 1 {
		return 0, usagef("-f is given %d times; more than one file is for a PipelineRun and its Pipelines", len(inputs))
	}
	cr, err := parseCustomRun(inputs[0].name, inputs[0].b)
	if err != nil {
		return 0, err
	}
	if err := setParams(cr, params); err != nil {
		return 0, err
	}
	bindings, err := parseBindings(workspaces)
	if err != nil {
		return 0, err
	}
	p, module, err := loadPlugin(ctx, cr, pluginPath, pluginsDir)
	if err != nil {
		return 0, err
	}

	eng, err := engine.New(ctx, engine.Config{CacheDir: cacheDir})
	if err != nil {
		return 0, fmt.Errorf("starting the engine: %w", err)
	}
	defer eng.Close(context.Background())
	runner := &local.Runner{
		Machine:    &lifecycle.Machine{Clock: clock.RealClock{}, DefaultTimeout: p.Limits.DefaultTimeout(), CleanupGrace: p.Limits.CleanupGrace()},
		Log:        stderr,
		Workspaces: &workspace.Local{Bindings: bindings},
	}
	grants, err := caps.grant(p, runner, stderr)
	if err != nil {
		return 0, err
	}
	if runner.Plugin, err = eng.Compile(context.Background(), module, engine.Limits{MemoryBytes: p.Limits.MemoryBytes(), Grants: grants}); err != nil {
		return 0, usagef("%s: %v", p.Module, err)
	}
	if err := runner.Run(ctx, cr); err != nil {
		return 0, usagef("%v", err)
	}
	if err := printRun(stdout, cr, output); err != nil {
		return 0, err
	}
	if cr.IsSuccessful() {
		return 0, nil
	}
	return 1, nil
}

// parseCustomRun checks the CustomRun document b read from file.
func parseCustomRun(file string, b []byte) (*v1beta1.CustomRun, error) {
	var cr v1beta1.CustomRun
	if err := yaml.UnmarshalStrict(b, &cr); err != nil {
		return nil, usagef("%s is not a valid CustomRun: %v", file, err)
	}
	if cr.APIVersion != "tekton.dev/v1beta1" || cr.Kind != "CustomRun" {
		return nil, usagef("%s is a %q %q, not a CustomRun; it needs apiVersion: tekton.dev/v1beta1 and kind: CustomRun", file, cr.APIVersion, cr.Kind)
	}
	if cr.Name == "" {
		cr.Name = strings.TrimSuffix(cr.GenerateName, "-")
	}
	if cr.Name == "" {
		return nil, usagef("%s: the CustomRun has no metadata.name", file)
	}
	return &cr, nil
}

// setParams applies --param name=value overrides.
func setParams(cr *v1beta1.CustomRun, params []string) error {
	for _, kv := range params {
		name, value, err := splitParam(kv)
		if err != nil {
			return err
		}
		p := v1beta1.Param{Name: name, Value: *v1beta1.NewStructuredValues(value)}
		if i := paramIndex(cr.Spec.Params, name); i >= 0 {
			cr.Spec.Params[i] = p
		} else {
			cr.Spec.Params = append(cr.Spec.Params, p)
		}
	}
	return nil
}

// splitParam splits a --param name=value.
func splitParam(kv string) (name, value string, err error) {
	name, value, ok := strings.Cut(kv, "=")
	if !ok || name == "" {
		return "", "", usagef("--param %q is not name=value", kv)
	}
	return name, value, nil
}

func paramIndex(ps v1beta1.Params, name string) int {
	for i, p := range ps {
		if p.Name == name {
			return i
		}
	}
	return -1
}

func parseBindings(ws []string) (map[string]string, error) {
	bindings := map[string]string{}
	for _, kv := range ws {
		name, dir, ok := strings.Cut(kv, "=")
		if !ok || name == "" || dir == "" {
			return nil, usagef("--workspace %q is not name=DIR", kv)
		}
		if _, twice := bindings[name]; twice {
			return nil, usagef("--workspace %s is given twice; bind each workspace once", name)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, usagef("--workspace %s: %q is not a directory", name, dir)
		}
		bindings[name] = dir
	}
	return bindings, nil
}

// loadPlugin finds the manifest and module for the run.
func loadPlugin(ctx context.Context, cr *v1beta1.CustomRun, pluginPath, pluginsDir string) (*manifest.Manifest, []byte, error) {
	if pluginPath != "" {
		apiVersion, kind := lifecycle.Target(cr)
		if strings.HasPrefix(pluginPath, manifest.ModuleScheme) {
			return pullPlugin(ctx, pluginPath, apiVersion, kind)
		}
		p := &manifest.Manifest{Name: strings.TrimSuffix(filepath.Base(pluginPath), filepath.Ext(pluginPath)), APIVersion: apiVersion, Kind: kind, Module: pluginPath}
		b, err := boundedread.Open(pluginPath, wasmmodule.MaxBytes)
		if err != nil {
			return nil, nil, usagef("reading the plugin: %v", tooLarge(err, pluginPath, "a module"))
		}
		module, err := p.Decode(b)
		if err != nil {
			return nil, nil, usagef("%v", err)
		}
		return p, module, nil
	}
	idx, err := manifest.LoadDir(pluginsDir)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	apiVersion, kind := lifecycle.Target(cr)
	p := idx.Find(apiVersion, kind)
	if p == nil {
		return nil, nil, usagef("no plugin in %s serves kind %q (apiVersion %q); add one to its %s", pluginsDir, kind, apiVersion, manifest.IndexFile)
	}
	if _, remote := p.RegistryModule(); remote {
		a, err := pullModule(ctx, p.Module)
		if err != nil {
			return nil, nil, usagef("plugin %q: %v", p.Name, err)
		}
		module, err := p.Decode(a.Module)
		if err != nil {
			return nil, nil, usagef("%v", err)
		}
		return p, module, nil
	}
	module, err := manifest.ReadModule(pluginsDir, p)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	return p, module, nil
}

// printRun prints the CustomRun as the apiserver would show it: an empty
// extraFields (which Tekton's type renders as null) is left out.
func printRun(w io.Writer, cr *v1beta1.CustomRun, format string) error {
	obj, err := customRunObject(cr)
	if err != nil {
		return err
	}
	return writeObject(w, obj, format)
}

// customRunObject is cr as the apiserver would show it.
func customRunObject(cr *v1beta1.CustomRun) (map[string]any, error) {
	obj, err := object(cr, "CustomRun")
	if err != nil {
		return nil, err
	}
	if status, ok := obj["status"].(map[string]any); ok {
		dropNullExtraFields(status)
		retries, _ := status["retriesStatus"].([]any)
		for _, r := range retries {
			if r, ok := r.(map[string]any); ok {
				dropNullExtraFields(r)
			}
		}
	}
	return obj, nil
}

// object is v as JSON decoded into maps.
func object(v any, kind string) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("printing the %s: %w", kind, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("printing the %s: %w", kind, err)
	}
	return obj, nil
}

// writeObject prints obj (JSON decoded into maps) as YAML or JSON.
func writeObject(w io.Writer, obj map[string]any, format string) error {
	var (
		b   []byte
		err error
	)
	if format == "json" {
		b, err = json.MarshalIndent(obj, "", "  ")
		b = append(b, '\n')
	} else {
		b, err = yaml.Marshal(obj)
	}
	if err != nil {
		return fmt.Errorf("printing the %s: %w", obj["kind"], err)
	}
	_, err = w.Write(b)
	return err
}

func dropNullExtraFields(status map[string]any) {
	if v, ok := status["extraFields"]; ok && v == nil {
		delete(status, "extraFields")
	}
}

// defaultCacheDir is the per-user compilation cache, or "" when the user
// has no cache directory.
func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "tekton-wasm", "wazero")
}

// tooLarge explains that the input name (what it should hold) is over its
// limit; other errors pass unchanged.
func tooLarge(err error, name, what string) error {
	var tl *boundedread.TooLargeError
	if errors.As(err, &tl) {
		return fmt.Errorf("%s: %w; %s is never that large (is this the right file?)", name, err, what)
	}
	return err
}
