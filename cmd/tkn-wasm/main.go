// Command tkn-wasm is the developer's tool for tekton-wasm plugins. As a
// binary named tkn-wasm it also works as the tkn plugin `tkn wasm`.
//
//	tkn-wasm run -f customrun.yaml --plugin plugin.wasm   run a CustomRun locally
//	tkn-wasm run -f customrun.yaml --plugins DIR          pick the plugin by kind
//	tkn-wasm run -f pipelinerun.yaml --plugins DIR        run a PipelineRun of plugin tasks
//	tkn-wasm pack plugin.wasm --api-version … --kind …    print its plugin ConfigMap
//	tkn-wasm push plugin.wasm HOST/REPO:TAG --kind …      push it to a registry
//	tkn-wasm pull HOST/REPO@sha256:… -o plugin.wasm       fetch it from a registry
//	tkn-wasm inspect plugin.wasm|HOST/REPO@sha256:…       say what a module is
//	tkn-wasm embed plugin.wasm --manifest plugin.yaml     make it say so
//
// Exit codes: 0 the run Succeeded, 1 it ended False, 2 usage or input error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `tkn-wasm runs Tekton custom tasks written as WebAssembly plugins.

Usage:
  tkn-wasm run -f CUSTOMRUN.yaml (--plugin MODULE.wasm | --plugins DIR) [flags]
  tkn-wasm run -f PIPELINERUN.yaml [-f PIPELINE.yaml…] [--pipelines DIR] --plugins DIR [flags]
  tkn-wasm pack MODULE.wasm --api-version APIVERSION --kind KIND [flags]
  tkn-wasm push MODULE.wasm HOST/REPO[:TAG] --api-version APIVERSION --kind KIND [flags]
  tkn-wasm pull HOST/REPO(:TAG|@sha256:DIGEST) -o FILE [flags]
  tkn-wasm inspect (MODULE.wasm | HOST/REPO(:TAG|@sha256:DIGEST)) [flags]
  tkn-wasm embed MODULE.wasm --manifest plugin.yaml [-o OUT]

Run "tkn-wasm COMMAND -h" for a command's flags.
`

// exitUsage is the exit code of usage and input errors.
const exitUsage = 2

// usageError is a problem with the command line or its inputs: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, with its I/O injected so tests can drive it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var (
		code int
		err  error
	)
	switch args[0] {
	case "run":
		code, err = runCmd(ctx, args[1:], stdin, stdout, stderr)
	case "pack":
		code, err = packCmd(ctx, args[1:], stdin, stdout, stderr)
	case "push":
		code, err = pushCmd(ctx, args[1:], stdin, stdout, stderr)
	case "pull":
		code, err = pullCmd(ctx, args[1:], stdin, stdout, stderr)
	case "inspect":
		code, err = inspectCmd(ctx, args[1:], stdin, stdout, stderr)
	case "test":
		code, err = testCmd(ctx, args[1:], stdin, stdout, stderr)
	case "init":
		code, err = initCmd(ctx, args[1:], stdin, stdout, stderr)
	case "embed":
		code, err = embedCmd(ctx, args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usagef("unknown command %q; run \"tkn-wasm help\"", args[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "tkn-wasm: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return 1
	}
	return code
}
