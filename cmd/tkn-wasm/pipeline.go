package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/pipelinerun"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// MaxPipelineFiles caps the files tkn-wasm run reads from --pipelines DIR
// (each at most MaxCustomRunBytes): a directory of Pipelines is small,
// and a mistaken directory (a home directory) should fail fast rather
// than be read whole.
const MaxPipelineFiles = 256

// input is one -f file as read.
type input struct {
	name string
	b    []byte
}

// document is one YAML document of a file.
type document struct {
	name string
	b    []byte
	metav1.TypeMeta
}

// readInputs reads the -f files (at most one may be -, stdin).
func readInputs(files []string, stdin io.Reader) ([]input, error) {
	if n := len(slices.DeleteFunc(slices.Clone(files), func(f string) bool { return f != "-" })); n > 1 {
		return nil, usagef("-f - is given %d times; stdin can be read once", n)
	}
	var inputs []input
	for _, f := range files {
		var (
			b   []byte
			err error
		)
		if f == "-" {
			b, err = boundedread.All(stdin, MaxCustomRunBytes)
		} else {
			b, err = boundedread.Open(f, MaxCustomRunBytes)
		}
		if err != nil && len(files) == 1 {
			return nil, usagef("reading the CustomRun: %v", tooLarge(err, f, "a CustomRun"))
		}
		if err != nil {
			return nil, usagef("reading %s: %v", f, tooLarge(err, f, "a PipelineRun or Pipeline"))
		}
		inputs = append(inputs, input{f, b})
	}
	return inputs, nil
}

// documents splits a file into its YAML documents (--- separated) and
// reads each one's apiVersion and kind; a document that is not YAML
// yields an error.
func documents(in input) ([]document, error) {
	var docs []document
	r := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(in.b)))
	for {
		b, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, usagef("%s: %v", in.name, err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		d := document{name: in.name, b: b}
		if err := yaml.Unmarshal(b, &d.TypeMeta); err != nil {
			return nil, usagef("%s is not valid YAML: %v", in.name, err)
		}
		if d.Kind == "" && d.APIVersion == "" {
			continue // only comments
		}
		docs = append(docs, d)
	}
}

// pipelineRunGiven says whether any -f document is a PipelineRun; what is
// not YAML is left to the CustomRun's parser to report.
func pipelineRunGiven(inputs []input) bool {
	for _, in := range inputs {
		docs, _ := documents(in)
		for _, d := range docs {
			if d.Kind == "PipelineRun" {
				return true
			}
		}
	}
	return false
}

// runPipelineRun is `tkn-wasm run` for a PipelineRun: it shows the tasks'
// progress on stderr (live.go) and prints the PipelineRun at the end.
func runPipelineRun(ctx context.Context, inputs []input, f runOptions, caps local.Capabilities, stdout, stderr io.Writer) (int, error) {
	switch {
	case f.pluginPath != "":
		return 0, usagef("a PipelineRun runs with --plugins DIR, whose index picks each task's plugin by kind, not with --plugin")
	case len(f.workspaces) > 0:
		return 0, usagef("--workspace binds a CustomRun's workspaces; a PipelineRun's workspaces are not supported by tkn-wasm run yet")
	}
	pr, pipelines, err := readPipelineRun(inputs, f.pipelinesDir)
	if err != nil {
		return 0, err
	}
	for _, kv := range f.params {
		name, value, err := splitParam(kv)
		if err != nil {
			return 0, err
		}
		p := v1.Param{Name: name, Value: *v1.NewStructuredValues(value)}
		if i := slices.IndexFunc(pr.Spec.Params, func(p v1.Param) bool { return p.Name == name }); i >= 0 {
			pr.Spec.Params[i] = p
		} else {
			pr.Spec.Params = append(pr.Spec.Params, p)
		}
	}
	idx, err := manifest.LoadDir(f.pluginsDir)
	if err != nil {
		return 0, usagef("%v", err)
	}
	eng, err := engine.New(ctx, engine.Config{CacheDir: f.cacheDir})
	if err != nil {
		return 0, fmt.Errorf("starting the engine: %w", err)
	}
	defer eng.Close(context.Background())

	view := f.progress.view(stderr)
	defer view.Close()
	var runs []*v1beta1.CustomRun // as they ended
	r := &pipelinerun.Runner{
		Plugins:   pluginRunners(eng, idx, f.pluginsDir, caps, view),
		Pipelines: pipelines,
		Progress: func(ev pipelinerun.Event) {
			if ev.Run != nil {
				runs = append(runs, ev.Run)
			}
			view.Event(ev)
		},
	}
	err = r.Run(ctx, pr)
	view.Close()
	if err != nil {
		return 0, usagef("%v", err)
	}
	obj, err := object(pr, "PipelineRun")
	if err != nil {
		return 0, err
	}
	if f.all {
		items := []any{obj}
		for _, cr := range runs {
			o, err := customRunObject(cr)
			if err != nil {
				return 0, err
			}
			items = append(items, o)
		}
		obj = map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	}
	if err := writeObject(stdout, obj, f.output); err != nil {
		return 0, err
	}
	if pr.IsDone() && pr.Status.GetCondition("Succeeded").IsTrue() {
		return 0, nil
	}
	return 1, nil
}

// pluginRunners compiles, on first use, the plugin the index names for
// a kind, with its capabilities as for a CustomRun (--allow-host and
// --kubeconfig apply to every plugin of the PipelineRun).
func pluginRunners(eng *engine.Engine, idx *manifest.Index, dir string, caps local.Capabilities, log io.Writer) func(apiVersion, kind string) (*local.Runner, error) {
	runners := map[*manifest.Manifest]*local.Runner{}
	return func(apiVersion, kind string) (*local.Runner, error) {
		p := idx.Find(apiVersion, kind)
		if p == nil {
			return nil, nil
		}
		if r, ok := runners[p]; ok {
			return r, nil
		}
		module, err := manifest.ReadModule(dir, p)
		if err != nil {
			return nil, err
		}
		grants, served, err := caps.Grant(p, log)
		if err != nil {
			return nil, usagef("%v", err)
		}
		compiled, err := eng.Compile(context.Background(), module, engine.Limits{MemoryBytes: p.Limits.MemoryBytes(), Grants: grants})
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p.Module, err)
		}
		r := local.NewRunner(p, compiled, served, log, &workspace.Local{})
		runners[p] = r
		return r, nil
	}
}

// readPipelineRun finds the one PipelineRun among the -f documents and
// the Pipelines given with it and in pipelinesDir.
func readPipelineRun(inputs []input, pipelinesDir string) (*v1.PipelineRun, map[string]*v1.Pipeline, error) {
	var (
		pr        *v1.PipelineRun
		pipelines = map[string]*v1.Pipeline{}
		where     = map[string]string{}
	)
	addPipeline := func(d document) error {
		var p v1.Pipeline
		if err := yaml.UnmarshalStrict(d.b, &p); err != nil {
			return usagef("%s is not a valid Pipeline: %v", d.name, err)
		}
		if p.Name == "" {
			return usagef("%s: a Pipeline has no metadata.name", d.name)
		}
		if first, twice := where[p.Name]; twice {
			return usagef("Pipeline %q is given twice (%s and %s); give each Pipeline once", p.Name, first, d.name)
		}
		where[p.Name] = d.name
		pipelines[p.Name] = &p
		return nil
	}
	for _, in := range inputs {
		docs, err := documents(in)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range docs {
			switch {
			case d.Kind == "PipelineRun" && d.APIVersion == "tekton.dev/v1":
				if pr != nil {
					return nil, nil, usagef("%s: a second PipelineRun; tkn-wasm run runs one at a time", d.name)
				}
				pr = &v1.PipelineRun{}
				if err := yaml.UnmarshalStrict(d.b, pr); err != nil {
					return nil, nil, usagef("%s is not a valid PipelineRun: %v", d.name, err)
				}
			case d.Kind == "Pipeline" && d.APIVersion == "tekton.dev/v1":
				if err := addPipeline(d); err != nil {
					return nil, nil, err
				}
			case d.Kind == "PipelineRun" || d.Kind == "Pipeline":
				return nil, nil, usagef("%s: a %s of apiVersion %q; tkn-wasm run takes tekton.dev/v1 (convert it, e.g. with tkn's bundled conversion)", d.name, d.Kind, d.APIVersion)
			default:
				return nil, nil, usagef("%s: a %q %q is not for a PipelineRun; give the PipelineRun and its Pipelines", d.name, d.APIVersion, d.Kind)
			}
		}
	}
	if pipelinesDir != "" {
		if err := readPipelinesDir(pipelinesDir, addPipeline); err != nil {
			return nil, nil, err
		}
	}
	if pr.Name == "" {
		pr.Name = strings.TrimSuffix(pr.GenerateName, "-")
	}
	if pr.Name == "" {
		return nil, nil, usagef("the PipelineRun has no metadata.name")
	}
	return pr, pipelines, nil
}

// readPipelinesDir passes each Pipeline document of the YAML and JSON
// files in dir (not its subdirectories) to add; other documents are
// ignored.
func readPipelinesDir(dir string, add func(document) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return usagef("--pipelines: %v", err)
	}
	n := 0
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		if n++; n > MaxPipelineFiles {
			return usagef("--pipelines %s holds more than %d YAML and JSON files; give a directory of Pipelines", dir, MaxPipelineFiles)
		}
		name := filepath.Join(dir, e.Name())
		b, err := boundedread.Open(name, MaxCustomRunBytes)
		if err != nil {
			return usagef("reading %s: %v", name, tooLarge(err, name, "a Pipeline"))
		}
		docs, err := documents(input{name, b})
		if err != nil {
			return err
		}
		for _, d := range docs {
			if d.Kind == "Pipeline" && d.APIVersion == "tekton.dev/v1" {
				if err := add(d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
