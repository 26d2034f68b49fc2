package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

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
	if err := scaffold.CheckName(name); err != nil {
		return usagef("%v", err)
	}
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
	fmt.Fprintf(stdout, "Wrote %s: a %s plugin serving %s %s (%d files, the SDK in %s).\n"+
		"Build and test it:\n  cd %s && make && tkn-wasm test\n",
		path, o.lang, d.APIVersion, d.Kind, len(files), filepath.Join(path, "sdk"), path)
	return nil
}

func initCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("tkn-wasm init", initUsage, stderr)
	var o initOptions
	fs.StringVar(&o.lang, "lang", "", "the plugin's language: "+strings.Join(scaffold.Languages(), ", "))
	fs.StringVar(&o.kind, "kind", "", "the custom task kind it serves (default: NAME in CamelCase)")
	fs.StringVar(&o.apiVersion, "api-version", "", "the custom task apiVersion it serves (default: NAME.example.com/v1alpha1)")
	positional, help, err := parseCommand(fs, args)
	if help || err != nil {
		return 0, err
	}
	if len(positional) != 1 || o.lang == "" {
		return 0, usagef("init takes a name and --lang %s; run \"tkn-wasm init -h\"", strings.Join(scaffold.Languages(), "|"))
	}
	return 0, initPlugin(positional[0], o, stdout)
}

const initUsage = "Usage: tkn-wasm init NAME --lang LANG [flags]\n\n" +
	"Writes a new plugin into the directory NAME: its manifest, a sample CustomRun,\n" +
	"test cases, a Makefile and its SDK, as this tkn-wasm ships it. It builds with\n" +
	"make and passes tkn-wasm test at once.\n"
