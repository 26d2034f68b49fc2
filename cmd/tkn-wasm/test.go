package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tekton-wasm/tekton-wasm/runtime/plugintest"
)

// testOptions are test's flags.
type testOptions struct {
	dir, module, cacheDir string
	allowHosts            []string
	verbose               bool
}

// testPlugin runs every case of a plugin directory (runtime/plugintest)
// one after the other and prints a line per case, the differences and
// the plugin's log of a failed one, and a closing count. Exit code: 0 all
// passed, 1 a case failed, 2 bad input (the plugin, a case).
func testPlugin(ctx context.Context, o testOptions, stdout, stderr io.Writer) (int, error) {
	cases, err := plugintest.LoadCases(o.dir)
	if err != nil {
		return 0, usagef("%v", err)
	}
	p, err := plugintest.Open(ctx, o.dir, plugintest.Options{Module: o.module, CacheDir: o.cacheDir, AllowHosts: o.allowHosts, Warn: stderr})
	if err != nil {
		return 0, usagef("%v", err)
	}
	defer p.Close(context.Background())
	passed, failed := 0, 0
	for _, c := range cases {
		if ctx.Err() != nil {
			break
		}
		r, err := p.Run(ctx, c)
		if err != nil {
			return 0, err
		}
		took := fmt.Sprintf("%.3fs", r.Took.Seconds())
		if r.Passed() {
			passed++
			fmt.Fprintf(stdout, "PASS %s (%s)\n", c.Name, took)
		} else {
			failed++
			fmt.Fprintf(stdout, "FAIL %s (%s)\n", c.Name, took)
			for _, d := range r.Diffs {
				fmt.Fprintf(stdout, "    %s\n", d)
			}
		}
		if len(r.Log) > 0 && (o.verbose || !r.Passed()) {
			fmt.Fprintf(stdout, "    plugin log:\n%s", indent(string(r.Log), "    | "))
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 || passed < len(cases) {
		return 1, nil
	}
	return 0, nil
}

// indent prefixes each line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

func newTestCmd(code *int) *cobra.Command {
	var o testOptions
	cmd := &cobra.Command{
		Use:   "test [DIR] [--plugin MODULE.wasm] [flags]",
		Short: "Run a plugin directory's test cases",
		Long: "Runs every test case of the plugin directory DIR (default: .), the files\n" +
			"DIR/tests/*.yaml, with the plugin DIR/plugin.yaml describes, through the\n" +
			"runner of tkn-wasm run, and prints a line per case and a count. Each case is a\n" +
			"CustomRun (run: FILE or customRun: {…}), params and workspaces as run's flags\n" +
			"give them, and the outcome it expects (expect: status, reason, results,\n" +
			"message); docs/plugins.md#testing-a-plugin has the format.\n\n" +
			"Exit code: 0 every case passed, 1 one failed, 2 usage or input error.",
		Example: "  tkn-wasm test                     # the plugin in this directory, its module as plugin.yaml names it\n" +
			"  tkn-wasm test demo -v             # every case's plugin log, too\n" +
			"  tkn-wasm test plugins/wait --plugin bin/plugins/wait.wasm",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch len(args) {
			case 0:
				o.dir = "."
			case 1:
				o.dir = args[0]
			default:
				return usagef("test takes one plugin directory; run \"tkn-wasm test --help\"")
			}
			c, err := testPlugin(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			*code = c
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.module, "plugin", "", "the module to test (.wasm, .wasm.gz or .wasm.zst); default: the module plugin.yaml names, relative to DIR")
	fs.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "compilation cache directory; empty disables it")
	fs.StringArrayVar(&o.allowHosts, "allow-host", nil, "`HOST[:PORT]`: let the plugin reach this host over HTTP, besides its manifest's capabilities.http.allow (repeatable)")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print the plugin's log of every case, not only of failed ones")
	cmd.MarkFlagFilename("plugin", "wasm", "gz", "zst")
	cmd.MarkFlagDirname("cache-dir")
	return cmd
}
