package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// DefaultNamespace is where the controller looks for plugin ConfigMaps
// unless configured otherwise (config/).
const DefaultNamespace = "tekton-wasm"

func packCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("tkn-wasm pack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		p         manifest.Manifest
		namespace string
		memory    string
		timeout   time.Duration
		allow     multiFlag
	)
	fs.StringVar(&p.APIVersion, "api-version", "", "the custom task apiVersion the plugin serves (required)")
	fs.StringVar(&p.Kind, "kind", "", "the custom task kind the plugin serves (required)")
	fs.StringVar(&p.Name, "name", "", "the plugin's (and ConfigMap's) name; default: the module's file name")
	fs.StringVar(&namespace, "namespace", DefaultNamespace, "the controller's namespace")
	fs.StringVar(&memory, "memory", "", "memory limit per instance in bytes, from 64Ki to 4Gi, e.g. 128Mi (default 64Mi)")
	fs.DurationVar(&timeout, "timeout", 0, "per-attempt timeout for runs without spec.timeout (default: Tekton's 60m)")
	fs.IntVar(&p.Limits.Concurrency, "concurrency", 0, "most concurrent invocations of this plugin (default: the controller's global limit only)")
	fs.Var(&allow, "allow-host", "`HOST[:PORT]`: grant the HTTP capability and let the plugin reach this host (repeatable; capabilities.http.allow, see docs/plugins.md)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: tkn-wasm pack MODULE.wasm --api-version APIVERSION --kind KIND [flags]\n\n"+
			"Prints the ConfigMap that registers the plugin with the controller:\n"+
			"  tkn-wasm pack wait.wasm --api-version wait.tekton-wasm.dev/v1alpha1 --kind Wait | kubectl apply -f -\n"+
			"The module is compressed when it would not fit the 1 MiB ConfigMap limit otherwise.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0, nil
	}
	if err != nil {
		return 0, usagef("%v", err)
	}
	if len(positional) != 1 {
		return 0, usagef("pack takes one module file; run \"tkn-wasm pack -h\"")
	}
	if p.APIVersion == "" || p.Kind == "" {
		return 0, usagef("pack needs --api-version and --kind: the custom task the plugin serves")
	}
	path := positional[0]
	if p.Name == "" {
		p.Name = strings.ToLower(strings.TrimSuffix(filepath.Base(path), ".wasm"))
	}
	if memory != "" {
		q, err := resource.ParseQuantity(memory)
		if err == nil {
			err = manifest.CheckMemory(q)
		}
		if err != nil {
			return 0, usagef("--memory %q: %v", memory, err)
		}
		p.Limits.Memory = &q
	}
	if timeout != 0 {
		p.Limits.Timeout = &metav1.Duration{Duration: timeout}
	}
	if len(allow) > 0 {
		p.Capabilities.HTTP = &manifest.HTTPCapability{Allow: allow}
	}
	stored, err := boundedread.Open(path, wasmmodule.MaxBytes)
	if err != nil {
		return 0, usagef("reading the module: %v", tooLarge(err, path, "a module"))
	}
	p.Module = filepath.Base(path)
	module, err := p.Decode(stored)
	if err != nil {
		return 0, usagef("%v", err)
	}
	cm, err := manifest.ToConfigMap(&p, module, namespace)
	if err != nil {
		return 0, usagef("%v", err)
	}
	b, err := yaml.Marshal(cm)
	if err != nil {
		return 0, err
	}
	_, err = stdout.Write(b)
	return 0, err
}

// parseInterspersed parses flags that may come before or after positional
// arguments, as in "pack plugin.wasm --kind Wait".
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
