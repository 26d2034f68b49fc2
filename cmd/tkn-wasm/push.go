package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

func pushCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("tkn-wasm push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	plugin := newPluginFlags(fs)
	reg := newRegistryFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: tkn-wasm push MODULE.wasm HOST/REPO[:TAG] (--api-version APIVERSION --kind KIND | --manifest plugin.yaml) [flags]\n\n"+
			"Pushes the module, with its manifest embedded, as a WebAssembly OCI artifact\n"+
			"and prints it by digest (HOST/REPO@sha256:…), the name a plugin ConfigMap pins:\n"+
			"  tkn-wasm push wait.wasm registry.example/plugins/wait:v1 --api-version wait.tekton-wasm.dev/v1alpha1 --kind Wait\n"+
			"A module that carries its manifest (pack --embed, push) needs no flags.\n"+registryHelp+"\nFlags:\n")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0, nil
	}
	if err != nil {
		return 0, usagef("%v", err)
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
