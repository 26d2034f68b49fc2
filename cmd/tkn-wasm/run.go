package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"sigs.k8s.io/yaml"
)

// MaxCustomRunBytes caps the CustomRun file (or stdin) that run reads: the
// apiserver stores objects of at most 1.5 MiB, and the YAML of one is
// rarely much larger than its stored form; the rest is headroom.
const MaxCustomRunBytes = 4 << 20

// runOptions are run's flags.
type runOptions struct {
	pluginPath, pluginsDir, output, cacheDir, pipelinesDir string
	kubeconfig                                             string
	files, params, workspaces, allowHosts                  []string
	all                                                    bool
	progress                                               progressFlag
}

func newRunCmd(code *int) *cobra.Command {
	o := runOptions{progress: progressAuto}
	cmd := &cobra.Command{
		Use:   "run -f CUSTOMRUN.yaml (--plugin MODULE.wasm | --plugins DIR) [flags]",
		Short: "Run a CustomRun, or a PipelineRun of plugin tasks, to its end on this machine",
		Long: "Runs the CustomRun to its end with the plugin and prints it, with its status, as\n" +
			"the controller would run it: the same state machine, timeout, retries,\n" +
			"cancellation, workspaces and capabilities. A PipelineRun whose tasks are all\n" +
			"plugin kinds runs the same way, task by task (docs/pipelines.md).\n" +
			"The plugin's log goes to stderr. Ctrl-C cancels the run.\n\n" +
			"Exit code: 0 Succeeded, 1 ended False, 2 usage or input error.",
		Example: "  tkn-wasm run -f examples/wait/wait-1s.yaml --plugins bin/plugins\n" +
			"  tkn-wasm run -f examples/wait/wait-1s.yaml --plugin bin/plugins/wait.wasm --param duration=3s -o json\n" +
			"  kubectl get customrun my-run -o yaml | tkn-wasm run -f - --plugins bin/plugins\n" +
			"  tkn-wasm run -f cr.yaml --plugin plugin.wasm --workspace source=. --allow-host api.example.com\n" +
			"  tkn-wasm run -f pipelinerun.yaml -f pipeline.yaml --plugins bin/plugins",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := runCmd(cmd.Context(), args, o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			*code = c
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVarP(&o.files, "file", "f", nil, "the CustomRun or PipelineRun YAML or JSON file (at most 4 MiB); - reads stdin; repeat it to give a PipelineRun's Pipelines")
	fs.StringVar(&o.pipelinesDir, "pipelines", "", "a directory of Pipeline YAML files that a PipelineRun's pipelineRef may name")
	fs.Var(&o.progress, "progress", progressUsage)
	fs.BoolVar(&o.all, "all", false, "with a PipelineRun: print a List of it and of each CustomRun it made, as they ended")
	fs.StringVar(&o.pluginPath, "plugin", "", "the plugin module (.wasm, .wasm.gz or .wasm.zst) to run, or oci://HOST/REPO@sha256:… to pull it")
	fs.StringVar(&o.pluginsDir, "plugins", "", "a plugin directory with an index.yaml; the run's apiVersion/kind picks the plugin")
	fs.StringVarP(&o.output, "output", "o", "yaml", "output format of the final CustomRun: yaml or json")
	fs.StringArrayVar(&o.params, "param", nil, "`name=value`: set a string param, replacing one of that name (repeatable)")
	fs.StringArrayVar(&o.workspaces, "workspace", nil, "`name=DIR`: bind a workspace to a local directory (repeatable)")
	fs.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "compilation cache directory; empty disables it")
	fs.StringArrayVar(&o.allowHosts, "allow-host", nil, "`HOST[:PORT]`: let the plugin reach this host over HTTP, besides its manifest's capabilities.http.allow (repeatable; see docs/plugins.md)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", kubeconfigUsage)
	cmd.MarkFlagFilename("file", "yaml", "yml", "json")
	cmd.MarkFlagFilename("plugin", "wasm", "gz", "zst")
	cmd.MarkFlagDirname("plugins")
	cmd.MarkFlagDirname("pipelines")
	cmd.MarkFlagDirname("cache-dir")
	cmd.MarkFlagFilename("kubeconfig")
	return cmd
}

func runCmd(ctx context.Context, args []string, o runOptions, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	switch {
	case len(args) > 0:
		return 0, usagef("unexpected argument %q; the CustomRun is given with -f", args[0])
	case len(o.files) == 0:
		return 0, usagef("no CustomRun given; use -f customrun.yaml (or -f - for stdin)")
	case (o.pluginPath == "") == (o.pluginsDir == ""):
		return 0, usagef("give exactly one of --plugin MODULE.wasm and --plugins DIR")
	case o.output != "yaml" && o.output != "json":
		return 0, usagef("-o %q is not a format; use yaml or json", o.output)
	}

	inputs, err := readInputs(o.files, stdin)
	if err != nil {
		return 0, err
	}
	caps, err := capabilities(o.allowHosts, o.kubeconfig)
	if err != nil {
		return 0, err
	}
	if pipelineRunGiven(inputs) {
		return runPipelineRun(ctx, inputs, o, caps, stdout, stderr)
	}
	if len(inputs) > 1 {
		return 0, usagef("-f is given %d times; more than one file is for a PipelineRun and its Pipelines", len(inputs))
	}
	cr, err := parseCustomRun(inputs[0].name, inputs[0].b)
	if err != nil {
		return 0, err
	}
	if err := setParams(cr, o.params); err != nil {
		return 0, err
	}
	bindings, err := parseBindings(o.workspaces)
	if err != nil {
		return 0, err
	}
	p, module, err := loadPlugin(ctx, cr, o.pluginPath, o.pluginsDir)
	if err != nil {
		return 0, err
	}

	eng, err := engine.New(ctx, engine.Config{CacheDir: o.cacheDir})
	if err != nil {
		return 0, fmt.Errorf("starting the engine: %w", err)
	}
	defer eng.Close(context.Background())
	grants, served, err := caps.Grant(p, stderr)
	if err != nil {
		return 0, usagef("%v", err)
	}
	compiled, err := eng.Compile(context.Background(), module, engine.Limits{MemoryBytes: p.Limits.MemoryBytes(), Grants: grants})
	if err != nil {
		return 0, usagef("%s: %v", p.Module, err)
	}
	runner := local.NewRunner(p, compiled, served, stderr, &workspace.Local{Bindings: bindings})
	if err := runner.Run(ctx, cr); err != nil {
		return 0, usagef("%v", err)
	}
	if err := printRun(stdout, cr, o.output); err != nil {
		return 0, err
	}
	if cr.IsSuccessful() {
		return 0, nil
	}
	return 1, nil
}

// parseCustomRun checks the CustomRun document b read from file.
func parseCustomRun(file string, b []byte) (*v1beta1.CustomRun, error) {
	cr, err := local.ParseCustomRun(file, b)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return cr, nil
}

// setParams applies --param name=value overrides.
func setParams(cr *v1beta1.CustomRun, params []string) error {
	for _, kv := range params {
		name, value, err := splitParam(kv)
		if err != nil {
			return err
		}
		local.SetParam(cr, name, value)
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
