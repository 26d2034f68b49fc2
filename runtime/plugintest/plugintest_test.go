package plugintest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
)

const waitDir = "../../plugins/wait"

// The wait plugin's own cases pass through the testing form.
func TestRunCases(t *testing.T) {
	Load(t, waitDir, wasmtest.GoPlugin(t, waitDir)).RunCases(t)
}

// pluginDir is a plugin directory with the wait plugin, its module
// built beside plugin.yaml, and the given cases.
func pluginDir(t *testing.T, cases map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest, err := os.ReadFile(filepath.Join(waitDir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	write(ManifestFile, manifest)
	write("wait.wasm", wasmtest.GoPlugin(t, waitDir))
	write("wait-1s.yaml", []byte("apiVersion: tekton.dev/v1beta1\nkind: CustomRun\nmetadata: {name: w}\n"+
		"spec: {customRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}, params: [{name: duration, value: 1s}]}\n"))
	for name, c := range cases {
		write(filepath.Join(TestsDir, name+".yaml"), []byte(c))
	}
	return dir
}

// A case whose expectations the run does not meet fails with each
// difference; the module is the one plugin.yaml names.
func TestDiffs(t *testing.T) {
	dir := pluginDir(t, map[string]string{
		"b-wrong": "run: ../wait-1s.yaml\nparams: {duration: soon}\n" +
			"expect: {status: \"True\", reason: DurationElapsed, message: ^elapsed, results: {left: 0s}}\n",
		"a-right": "run: ../wait-1s.yaml\nparams: {duration: 1ms}\nexpect: {status: \"True\", reason: DurationElapsed, message: elapsed$}\n",
	})
	cases, err := LoadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if names := []string{cases[0].Name, cases[1].Name}; !slices.Equal(names, []string{"a-right", "b-wrong"}) {
		t.Fatalf("cases %v, want them by name", names)
	}
	p, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	for _, c := range cases {
		r, err := p.Run(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		if c.Name == "b-wrong" {
			const msg = `The duration param was invalid: time: invalid duration "soon"`
			want = []string{
				"status False, want True (reason InvalidDuration: " + msg + ")",
				"reason InvalidDuration, want DurationElapsed (message: " + msg + ")",
				`message "The duration param was invalid: time: invalid duration \"soon\"" does not match "^elapsed"`,
				`no result left, want "0s"`,
			}
		}
		if !slices.Equal(r.Diffs, want) {
			t.Errorf("case %s: differences\n%s\nwant\n%s", c.Name, strings.Join(r.Diffs, "\n"), strings.Join(want, "\n"))
		}
	}
}

// Bad cases are refused before anything runs, saying what to fix.
func TestBadCases(t *testing.T) {
	for _, tc := range []struct{ name, c, want string }{
		{"no run", "expect: {status: \"True\"}", "give the CustomRun with exactly one of run: FILE and customRun"},
		{"both", "run: ../wait-1s.yaml\ncustomRun: {kind: CustomRun}\nexpect: {status: \"True\"}", "exactly one of"},
		{"missing file", "run: nope.yaml\nexpect: {status: \"True\"}", "nope.yaml: no such file"},
		{"unquoted status", "run: ../wait-1s.yaml\nexpect: {status: True}", `expect.status "true" is not "True", "False" or "Unknown" (quote it`},
		{"no status", "run: ../wait-1s.yaml\nexpect: {reason: X}", `expect.status "" is not`},
		{"bad pattern", "run: ../wait-1s.yaml\nexpect: {status: \"True\", message: \"(\"}", "expect.message: error parsing regexp"},
		{"unknown field", "run: ../wait-1s.yaml\nexpected: {status: \"True\"}", `unknown field "expected"`},
		{"not a customrun", "customRun: {apiVersion: v1, kind: Pod, metadata: {name: x}}\nexpect: {status: \"True\"}", "not a CustomRun"},
		{"workspace", "run: ../wait-1s.yaml\nworkspaces: {src: nowhere}\nexpect: {status: \"True\"}", `workspaces: src: "`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := pluginDir(t, map[string]string{"case": tc.c})
			_, err := LoadCases(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := LoadCases(t.TempDir()); err == nil || !strings.Contains(err.Error(), "has no test cases") {
		t.Errorf("a directory without cases: error %v", err)
	}
}

// A directory whose module is not built says how to get one.
func TestOpenUnbuilt(t *testing.T) {
	dir := pluginDir(t, nil)
	if err := os.Remove(filepath.Join(dir, "wait.wasm")); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "build the plugin first, or give its module with --plugin") {
		t.Errorf("error %v", err)
	}
}
