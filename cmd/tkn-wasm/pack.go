package main

import (
	"context"
	"flag"
	"io"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"sigs.k8s.io/yaml"
)

// DefaultNamespace is where the controller looks for plugin ConfigMaps
// unless configured otherwise (config/).
const DefaultNamespace = "tekton-wasm"

func packCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("tkn-wasm pack", packUsage, stderr)
	var (
		namespace string
		embed     bool
	)
	plugin := newPluginFlags(fs)
	fs.StringVar(&namespace, "namespace", DefaultNamespace, "the controller's namespace")
	fs.BoolVar(&embed, "embed", false, "embed the manifest in the module (custom section "+manifest.SectionName+"), so that the module says what it is")
	positional, help, err := parseCommand(fs, args)
	if help || err != nil {
		return 0, err
	}
	if len(positional) != 1 {
		return 0, usagef("pack takes one module file; run \"tkn-wasm pack -h\"")
	}
	p, module, err := plugin.load(positional[0])
	if err != nil {
		return 0, err
	}
	if embed {
		if module, err = manifest.Embed(p, module); err != nil {
			return 0, usagef("%v", err)
		}
		p.SHA256 = "" // it pinned the module without its manifest
	}
	cm, err := manifest.ToConfigMap(p, module, namespace)
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

const packUsage = "Usage: tkn-wasm pack MODULE.wasm (--api-version APIVERSION --kind KIND | --manifest plugin.yaml) [flags]\n\n" +
	"Prints the ConfigMap that registers the plugin with the controller:\n" +
	"  tkn-wasm pack wait.wasm --api-version wait.tekton-wasm.dev/v1alpha1 --kind Wait | kubectl apply -f -\n" +
	"The module is compressed when it would not fit the 1 MiB ConfigMap limit otherwise.\n" +
	"A module that carries its manifest (pack --embed, push) needs no flags.\n"
