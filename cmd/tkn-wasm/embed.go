package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

func embedCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("tkn-wasm embed", embedUsage, stderr)
	plugin := newPluginFlags(fs)
	var output string
	fs.StringVar(&output, "o", "", "the file to write the module to (default: MODULE itself)")
	positional, help, err := parseCommand(fs, args)
	if help || err != nil {
		return 0, err
	}
	if len(positional) != 1 {
		return 0, usagef("embed takes one module file; run \"tkn-wasm embed -h\"")
	}
	if output == "" {
		output = positional[0]
	}
	p, module, err := plugin.load(positional[0])
	if err != nil {
		return 0, err
	}
	if module, err = manifest.Embed(p, module); err != nil {
		return 0, usagef("%v", err)
	}
	if err := writeFile(output, module); err != nil {
		return 0, err
	}
	_, err = fmt.Fprintf(stdout, "%s sha256:%s\n", output, wasmmodule.Digest(module))
	return 0, err
}

const embedUsage = "Usage: tkn-wasm embed MODULE.wasm (--api-version APIVERSION --kind KIND | --manifest plugin.yaml) [-o OUT] [flags]\n\n" +
	"Writes the module (uncompressed) carrying its manifest in the custom section " + manifest.SectionName + ",\n" +
	"replacing any it carried, so that the module says what it is (tkn-wasm inspect),\n" +
	"and prints the file and its new digest:\n" +
	"  tkn-wasm embed bin/plugins/wait.wasm --manifest plugins/wait/plugin.yaml\n"
