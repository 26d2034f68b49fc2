package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// inspection is what inspect prints about a module.
type inspection struct {
	// Source is the file, or the artifact by digest.
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
	// Manifest is the manifest the module carries; null if none.
	Manifest      *manifest.Manifest `json:"manifest"`
	ManifestError string             `json:"manifestError,omitempty"`
	// Kind is command or reactor; Refused says why the engine would not
	// run the module instead.
	Kind    string          `json:"kind,omitempty"`
	Refused string          `json:"refused,omitempty"`
	Imports []engine.Import `json:"imports"`
	Exports []string        `json:"exports"`
	Memory  *memoryNeeds    `json:"memory,omitempty"`
}

// memoryNeeds are a module's declared memory limits, in bytes.
type memoryNeeds struct {
	Min string `json:"min"`
	Max string `json:"max,omitempty"`
}

func newInspectCmd() *cobra.Command {
	var (
		output string
		reg    *registryFlags
	)
	cmd := &cobra.Command{
		Use:   "inspect (MODULE.wasm | [oci://]HOST/REPO(:TAG|@sha256:DIGEST)) [flags]",
		Short: "Say what a module is and what it asks of the host",
		Long: "Prints what a module says it is and what it asks of the host: the manifest it\n" +
			"carries, its digest and size, whether it is a command or a reactor, its imports\n" +
			"(WASI and host capabilities), its exported functions and its memory needs.\n" +
			"An argument that is not a file and starts with a registry host is pulled.\n" + registryHelp,
		Example: "  tkn-wasm inspect bin/plugins/wait.wasm\n" +
			"  tkn-wasm inspect registry.example/plugins/wait@sha256:5d0e… -o json",
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspect(cmd.Context(), args, output, reg, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	reg = newRegistryFlags(cmd)
	return cmd
}

func inspect(ctx context.Context, positional []string, output string, reg *registryFlags, stdout io.Writer) error {
	if len(positional) != 1 || (output != "yaml" && output != "json") {
		return usagef("inspect takes a module file or a reference, and -o yaml or json; run \"tkn-wasm inspect --help\"")
	}
	arg := positional[0]
	var (
		in     inspection
		module []byte
		err    error
	)
	if isReference(arg) {
		client, err := reg.client()
		if err != nil {
			return err
		}
		a, err := client.Pull(ctx, trimOCI(arg))
		if err != nil {
			return err
		}
		in.Source, module = a.Ref.String(), a.Module
	} else {
		stored, err := boundedread.Open(arg, wasmmodule.MaxBytes)
		if err != nil {
			return usagef("reading the module: %v", tooLarge(err, arg, "a module"))
		}
		if module, err = (&manifest.Manifest{Name: filepath.Base(arg), Module: filepath.Base(arg)}).Decode(stored); err != nil {
			return usagef("%v", err)
		}
		in.Source = arg
	}
	in.SHA256, in.Size = wasmmodule.Digest(module), len(module)
	if in.Manifest, err = manifest.Embedded(module); err != nil {
		in.ManifestError = err.Error()
	}
	in.Imports, in.Exports = []engine.Import{}, []string{}
	d, err := engine.Describe(ctx, module)
	if err != nil {
		in.Refused = err.Error()
	} else {
		in.Kind, in.Refused = d.Kind, d.Refused
		in.Imports, in.Exports = append(in.Imports, d.Imports...), append(in.Exports, d.Exports...)
		if m := d.Memory; m != nil {
			in.Memory = &memoryNeeds{Min: pages(m.Min)}
			if m.HasMax {
				in.Memory.Max = pages(m.Max)
			}
		}
	}
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false) // "->" in signatures
		enc.SetIndent("", "  ")
		return enc.Encode(&in)
	}
	b, err := yaml.Marshal(&in)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

// pages renders a number of wasm pages as a quantity of bytes, like 128Ki.
func pages(n uint32) string {
	return fmt.Sprintf("%dKi", uint64(n)*wasmmodule.PageSize>>10)
}

// isReference reports whether arg names a registry artifact rather than
// a file: it has the oci:// prefix, or it is not a file and its first
// path element is a registry host (has a dot or a port, or is
// localhost), as docker tells a host from a Docker Hub user.
func isReference(arg string) bool {
	if strings.HasPrefix(arg, ociScheme) {
		return true
	}
	if _, err := os.Stat(arg); err == nil {
		return false
	}
	host, _, ok := strings.Cut(arg, "/")
	return ok && (strings.ContainsAny(host, ".:") || host == "localhost")
}

// ociScheme prefixes a reference to a registry artifact where a file name
// could be, as in a manifest's module.
const ociScheme = "oci://"

func trimOCI(ref string) string { return strings.TrimPrefix(ref, ociScheme) }
