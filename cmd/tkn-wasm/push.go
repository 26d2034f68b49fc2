package main

import (
	"context"
	"fmt"
	"io"
)

func pushCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("tkn-wasm push", pushUsage, stderr)
	plugin := newPluginFlags(fs)
	reg := newRegistryFlags(fs)
	positional, help, err := parseCommand(fs, args)
	if help || err != nil {
		return 0, err
	}
	if len(positional) != 2 {
		return 0, usagef("push takes a module file and a reference (HOST/REPO:TAG); run \"tkn-wasm push -h\"")
	}
	p, module, err := plugin.load(positional[0])
	if err != nil {
		return 0, err
	}
	client, err := reg.client()
	if err != nil {
		return 0, err
	}
	pushed, err := client.Push(ctx, positional[1], p, module)
	if err != nil {
		return 0, err
	}
	_, err = fmt.Fprintln(stdout, pushed)
	return 0, err
}

const pushUsage = "Usage: tkn-wasm push MODULE.wasm HOST/REPO[:TAG] (--api-version APIVERSION --kind KIND | --manifest plugin.yaml) [flags]\n\n" +
	"Pushes the module, with its manifest embedded, as a WebAssembly OCI artifact\n" +
	"and prints it by digest (HOST/REPO@sha256:…), the name a plugin ConfigMap pins:\n" +
	"  tkn-wasm push wait.wasm registry.example/plugins/wait:v1 --api-version wait.tekton-wasm.dev/v1alpha1 --kind Wait\n" +
	"A module that carries its manifest (pack --embed, push) needs no flags.\n" + registryHelp
