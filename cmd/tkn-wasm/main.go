// Command tkn-wasm is the developer's tool for tekton-wasm plugins, a
// cobra CLI. As a binary named tkn-wasm on PATH it also works as the tkn
// plugin `tkn wasm`.
//
//	tkn-wasm init NAME --lang go|rust|c                   start a plugin
//	tkn-wasm test [DIR]                                   run its test cases
//	tkn-wasm run -f customrun.yaml --plugin plugin.wasm   run a CustomRun locally
//	tkn-wasm run -f customrun.yaml --plugins DIR          pick the plugin by kind
//	tkn-wasm run -f pipelinerun.yaml --plugins DIR        run a PipelineRun of plugin tasks
//	tkn-wasm pack plugin.wasm --api-version … --kind …    print its plugin ConfigMap
//	tkn-wasm push plugin.wasm HOST/REPO:TAG --kind …      push it to a registry
//	tkn-wasm pull HOST/REPO@sha256:… -o plugin.wasm       fetch it from a registry
//	tkn-wasm inspect plugin.wasm|HOST/REPO@sha256:…       say what a module is
//	tkn-wasm embed plugin.wasm --manifest plugin.yaml     make it say so
//	tkn-wasm completion bash|zsh|fish|powershell          shell completion
//	tkn-wasm version
//
// Exit codes: 0 success (the run Succeeded, every case passed), 1 the run
// ended False or a case failed, 2 usage or input error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

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
// It returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var code int
	root := newRootCmd(&code)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "tkn-wasm: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return 1
	}
	return code
}

// newRootCmd is tkn-wasm with its commands; a command's exit code goes to
// *code (its error, to run).
func newRootCmd(code *int) *cobra.Command {
	root := &cobra.Command{
		Use:   "tkn-wasm",
		Short: "Run, test and ship Tekton custom tasks written as WebAssembly plugins",
		Long: "tkn-wasm runs Tekton custom tasks written as WebAssembly plugins on this machine,\n" +
			"as the tekton-wasm controller runs them in a cluster, and packs, pushes and\n" +
			"inspects their modules. Installed on PATH it is also the tkn plugin \"tkn wasm\".\n\n" +
			"Exit codes: 0 success, 1 a run ended False or a test case failed, 2 usage or input error.",
		Example: "  tkn-wasm init demo --lang go && cd demo && make && tkn-wasm test\n" +
			"  tkn-wasm run -f examples/wait/wait-1s.yaml --plugins bin/plugins\n" +
			"  tkn wasm run -f customrun.yaml --plugin plugin.wasm   # the same, as a tkn plugin",
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return usagef("no command given; run \"tkn-wasm --help\" for the commands and examples")
		},
	}
	root.SetFlagErrorFunc(flagError)
	root.SetVersionTemplate("tkn-wasm {{.Version}}\n")
	root.AddCommand(newRunCmd(code), newTestCmd(code), newInitCmd(), newPackCmd(), newPushCmd(), newPullCmd(),
		newInspectCmd(), newEmbedCmd(), newVersionCmd())
	return root
}

// noArgs refuses what is not a command, saying how to find the commands.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q; run \"%s --help\" for the commands", args[0], cmd.CommandPath())
	}
	return nil
}

// flagError makes a flag the command does not take, or a bad flag value,
// a usage error that says where to look.
func flagError(cmd *cobra.Command, err error) error {
	return usagef("%v; run \"%s --help\"", err, cmd.CommandPath())
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tkn-wasm's version, which is also the version of the SDKs init writes",
		Example: "  tkn-wasm version\n" +
			"  tkn wasm version",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "tkn-wasm %s\n", versionString())
			return err
		},
	}
}
