package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// execCLI runs tkn-wasm with args and returns its exit code and output.
func execCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

// Every command's --help says what it does, with examples, on stdout,
// and exits 0.
func TestHelp(t *testing.T) {
	root := newRootCmd(new(int))
	for _, cmd := range append(root.Commands(), root) {
		if cmd.Name() == "help" {
			continue
		}
		t.Run(cmd.Name(), func(t *testing.T) {
			args := []string{"--help"}
			if cmd != root {
				args = []string{cmd.Name(), "--help"}
			}
			code, stdout, stderr := execCLI(args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit code %d, stderr %q", code, stderr)
			}
			if !strings.Contains(stdout, "Usage:") || (cmd.Name() != "completion" && !strings.Contains(stdout, "Examples:")) {
				t.Errorf("the help lacks usage or examples:\n%s", stdout)
			}
		})
	}
	// Help and docs agree: a module's ConfigMap is applied server-side
	// (docs/controller.md).
	if _, stdout, _ := execCLI("pack", "--help"); strings.Count(stdout, "kubectl apply") != strings.Count(stdout, "kubectl apply --server-side") {
		t.Errorf("pack --help applies client-side:\n%s", stdout)
	}
}

// Usage errors exit 2 and say where to look; flags are GNU-style.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, `tkn-wasm: no command given; run "tkn-wasm --help" for the commands and examples`},
		{[]string{"run", "--bogus"}, `tkn-wasm: unknown flag: --bogus; run "tkn-wasm run --help"`},
		{[]string{"run", "-plugins", "x"}, `tkn-wasm: unknown shorthand flag: 'p' in -plugins; run "tkn-wasm run --help"`},
		{[]string{"test", "a", "b"}, `tkn-wasm: test takes one plugin directory; run "tkn-wasm test --help"`},
		{[]string{"init", "demo"}, "tkn-wasm: init needs --lang go|rust|c"},
		{[]string{"init", "Demo", "--lang", "go"}, `tkn-wasm: plugin name "Demo" is not lower-case letters`},
		{[]string{"version", "x"}, `tkn-wasm: unknown command "x"; run "tkn-wasm version --help"`},
	} {
		code, _, stderr := execCLI(tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit code %d, stderr %q; want %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}

func TestVersionAndCompletion(t *testing.T) {
	if code, stdout, _ := execCLI("version"); code != 0 || stdout != "tkn-wasm "+versionString()+"\n" {
		t.Errorf("version: exit code %d, %q", code, stdout)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if code, stdout, stderr := execCLI("completion", shell); code != 0 || !strings.Contains(stdout, "tkn-wasm") {
			t.Errorf("completion %s: exit code %d, stderr %q", shell, code, stderr)
		}
	}
	// Completion of init's --lang offers the languages.
	if _, stdout, _ := execCLI("__complete", "init", "demo", "--lang", ""); !strings.Contains(stdout, "go\n") || !strings.Contains(stdout, "rust\n") {
		t.Errorf("completing --lang: %q", stdout)
	}
}
