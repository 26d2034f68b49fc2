package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

func newEmbedCmd() *cobra.Command {
	var (
		output string
		plugin *pluginFlags
	)
	cmd := &cobra.Command{
		Use:   "embed MODULE.wasm (--api-version APIVERSION --kind KIND | --manifest plugin.yaml) [-o OUT] [flags]",
		Short: "Make a module carry its manifest",
		Long: "Writes the module (uncompressed) carrying its manifest in the custom section " + manifest.SectionName + ",\n" +
			"replacing any it carried, so that the module says what it is (tkn-wasm inspect),\n" +
			"and prints the file and its new digest.",
		Example: "  tkn-wasm embed bin/plugins/wait.wasm --manifest plugins/wait/plugin.yaml\n" +
			"  tkn-wasm embed demo.wasm --manifest plugin.yaml -o demo-embedded.wasm",
		RunE: func(cmd *cobra.Command, args []string) error {
			return embed(args, output, plugin, cmd.OutOrStdout())
		},
	}
	plugin = newPluginFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "the file to write the module to (default: MODULE itself)")
	return cmd
}

func embed(positional []string, output string, plugin *pluginFlags, stdout io.Writer) error {
	if len(positional) != 1 {
		return usagef("embed takes one module file; run \"tkn-wasm embed --help\"")
	}
	if output == "" {
		output = positional[0]
	}
	p, module, err := plugin.load(positional[0])
	if err != nil {
		return err
	}
	if module, err = manifest.Embed(p, module); err != nil {
		return usagef("%v", err)
	}
	if err := writeFile(output, module); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s sha256:%s\n", output, wasmmodule.Digest(module))
	return err
}
