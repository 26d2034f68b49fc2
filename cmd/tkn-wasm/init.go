package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tekton-wasm/tekton-wasm/internal/scaffold"
)

// initOptions are init's flags.
type initOptions struct {
	lang, kind, apiVersion string
}

// initPlugin writes a new plugin's directory at path (internal/scaffold)
// and says how to build and test it.
func initPlugin(path string, o initOptions, stdout io.Writer) error {
	name := filepath.Base(path)
	d := scaffold.Data{Name: name, Kind: o.kind, APIVersion: o.apiVersion, Version: versionString()}
	if d.Kind == "" {
		d.Kind = scaffold.Kind(name)
	}
	if d.APIVersion == "" {
		d.APIVersion = name + ".example.com/v1alpha1"
	}
	files, err := scaffold.Write(path, o.lang, d)
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(stdout, "Wrote %s: a plugin in %s serving %s %s (%d files, the SDK in %s).\n"+
		"Build and test it:\n  cd %s && make && tkn-wasm test\n",
		path, o.lang, d.APIVersion, d.Kind, len(files), filepath.Join(path, "sdk"), path)
	return nil
}

func newInitCmd() *cobra.Command {
	var o initOptions
	langs := scaffold.Languages()
	cmd := &cobra.Command{
		Use:   "init NAME --lang " + strings.Join(langs, "|") + " [flags]",
		Short: "Start a plugin: a directory that builds, runs and passes its tests at once",
		Long: "Writes a new plugin into the directory NAME: its manifest (plugin.yaml), a plugin\n" +
			"that greets its name param, a sample CustomRun (examples/), test cases (tests/),\n" +
			"a Makefile and the language's SDK (sdk/), the one this tkn-wasm ships. make\n" +
			"builds NAME.wasm; tkn-wasm test and tkn-wasm run work with it at once\n" +
			"(docs/plugins.md#starting-a-plugin-tkn-wasm-init).",
		Example: "  tkn-wasm init demo --lang go && cd demo && make && tkn-wasm test\n" +
			"  tkn-wasm init semver-gate --lang rust --kind SemVerGate --api-version gates.example.com/v1\n" +
			"  tkn-wasm run -f demo/examples/greet.yaml --plugin demo/demo.wasm --param name=you",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("init takes the new plugin's name (its directory); run \"tkn-wasm init --help\"")
			}
			if o.lang == "" {
				return usagef("init needs --lang %s", strings.Join(langs, "|"))
			}
			return initPlugin(args[0], o, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.lang, "lang", "", "the plugin's language: "+strings.Join(langs, ", "))
	fs.StringVar(&o.kind, "kind", "", "the custom task kind it serves (default: NAME in CamelCase)")
	fs.StringVar(&o.apiVersion, "api-version", "", "the custom task apiVersion it serves (default: NAME.example.com/v1alpha1)")
	cmd.RegisterFlagCompletionFunc("lang", cobra.FixedCompletions(langs, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
