package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newPushCmd() *cobra.Command {
	var (
		plugin *pluginFlags
		reg    *registryFlags
	)
	cmd := &cobra.Command{
		Use:   "push MODULE.wasm HOST/REPO[:TAG] (--api-version APIVERSION --kind KIND | --manifest plugin.yaml) [flags]",
		Short: "Push a module, with its manifest, to an OCI registry",
		Long: "Pushes the module, with its manifest embedded, as a WebAssembly OCI artifact\n" +
			"and prints it by digest (HOST/REPO@sha256:…), the name a plugin ConfigMap pins.\n" +
			"A module that carries its manifest (pack --embed, push) needs no flags.\n" + registryHelp,
		Example: "  tkn-wasm push wait.wasm registry.example/plugins/wait:v1 --api-version wait.tekton-wasm.dev/v1alpha1 --kind Wait\n" +
			"  tkn-wasm push demo.wasm registry.example/plugins/demo:v1 --manifest plugin.yaml",
		RunE: func(cmd *cobra.Command, args []string) error {
			return push(cmd.Context(), args, plugin, reg, cmd.OutOrStdout())
		},
	}
	plugin = newPluginFlags(cmd)
	reg = newRegistryFlags(cmd)
	return cmd
}

func push(ctx context.Context, positional []string, plugin *pluginFlags, reg *registryFlags, stdout io.Writer) error {
	if len(positional) != 2 {
		return usagef("push takes a module file and a reference (HOST/REPO:TAG); run \"tkn-wasm push --help\"")
	}
	p, module, err := plugin.load(positional[0])
	if err != nil {
		return err
	}
	client, err := reg.client()
	if err != nil {
		return err
	}
	pushed, err := client.Push(ctx, positional[1], p, module)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, pushed)
	return err
}
