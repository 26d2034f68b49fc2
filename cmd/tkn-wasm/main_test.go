package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/sandboxfs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// pluginDir builds a plugin directory with the wait plugin and hostile
// modules from the engine's test data, each serving its own kind, and a
// compilation cache warmed with them, so that timings measure runs, not
// compilation.
func pluginDir(t *testing.T) (dir, cache string) {
	t.Helper()
	dir, cache = t.TempDir(), t.TempDir()
	eng, err := engine.New(context.Background(), engine.Config{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".wasm") {
			if _, err := eng.Compile(context.Background(), b, engine.Limits{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("wait.wasm", wasmtest.GoPlugin(t, "../../plugins/wait"))
	index := "plugins:\n- {name: wait, apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait, module: wait.wasm}\n"
	for kind, wat := range map[string]string{"Loop": "loop", "Garbage": "garbage", "MemBomb": "membomb", "StdoutFlood": "stdout_flood", "Trap": "trap"} {
		src := "../../examples/hostile/src/" + wat + ".wat"
		if wat == "trap" { // an engine test module, not a demo
			src = "../../runtime/engine/testdata/trap.wat"
		}
		write(wat+".wasm", wasmtest.WAT(t, src))
		index += fmt.Sprintf("- {name: %s, apiVersion: hostile.tekton-wasm.dev/v1alpha1, kind: %s, module: %s.wasm, limits: {memory: 16Mi}}\n", strings.ReplaceAll(wat, "_", "-"), kind, wat)
	}
	write("index.yaml", []byte(index))
	return dir, cache
}

var (
	timestamps = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	tempDirs   = regexp.MustCompile(`/tmp/[^ :"]*`)
)

// normalize removes what changes from run to run.
func normalize(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "<plugins>")
	s = timestamps.ReplaceAllString(s, "<time>")
	return tempDirs.ReplaceAllString(s, "<tmp>")
}

func TestRunGolden(t *testing.T) {
	plugins, cache := pluginDir(t)
	for _, tc := range []struct {
		name string
		args []string
		// cancelAfter, if set, interrupts the command like Ctrl-C.
		cancelAfter time.Duration
		// took bounds the command's wall time, as [min, max]. The upper
		// bounds leave room for start-up on a loaded machine while still
		// failing a run that ignores its timeout or cancellation (the
		// engine's tests hold the sandbox to deadline + 100 ms; speed is
		// measured by benchmarks, not here).
		took [2]time.Duration
	}{
		{name: "wait-1s", args: []string{"-f", "testdata/wait-1s.yaml", "--plugins", plugins}, took: [2]time.Duration{time.Second, 4 * time.Second}},
		{name: "wait-1s-json-param", args: []string{"-f", "testdata/wait-1s.yaml", "--plugin", filepath.Join(plugins, "wait.wasm"), "--param", "duration=10ms", "-o", "json"}},
		{name: "wait-bad-param", args: []string{"-f", "testdata/wait-1s.yaml", "--plugins", plugins, "--param", "duration=soon", "--param", "extra=1"}},
		{name: "wait-timeout", args: []string{"-f", "testdata/wait-timeout.yaml", "--plugins", plugins}, took: [2]time.Duration{time.Second, 4 * time.Second}},
		{name: "wait-retries", args: []string{"-f", "testdata/wait-retries.yaml", "--plugins", plugins}, took: [2]time.Duration{3 * time.Second, 4900 * time.Millisecond}},
		{name: "wait-cancelled", args: []string{"-f", "testdata/wait-timeout.yaml", "--plugins", plugins}, cancelAfter: 300 * time.Millisecond, took: [2]time.Duration{300 * time.Millisecond, 2 * time.Second}},
		{name: "loop", args: []string{"-f", "testdata/loop.yaml", "--plugins", plugins}, took: [2]time.Duration{time.Second, 3 * time.Second}},
		{name: "loop-cancelled", args: []string{"-f", "testdata/loop.yaml", "--plugins", plugins}, cancelAfter: 300 * time.Millisecond, took: [2]time.Duration{300 * time.Millisecond, 2 * time.Second}},
		{name: "garbage", args: []string{"-f", "testdata/garbage.yaml", "--plugins", plugins}},
		{name: "membomb", args: []string{"-f", "testdata/membomb.yaml", "--plugins", plugins}},
		{name: "stdoutflood", args: []string{"-f", "testdata/stdoutflood.yaml", "--plugins", plugins}},
		{name: "trap", args: []string{"-f", "testdata/trap.yaml", "--plugins", plugins}},
		{name: "stdin", args: []string{"-f", "-", "--plugins", plugins, "--param", "duration=1ms"}},
		{name: "workspace-unbound", args: []string{"-f", "testdata/workspace.yaml", "--plugins", plugins}},
		{name: "workspace-bound", args: []string{"-f", "testdata/workspace.yaml", "--plugins", plugins, "--workspace", "config=testdata"}},
		{name: "workspace-dot", args: []string{"-f", "testdata/workspace-dot.yaml", "--plugins", plugins}},
		{name: "workspace-pvc", args: []string{"-f", "testdata/workspace-pvc.yaml", "--plugins", plugins}},
		{name: "workspace-pvc-bound", args: []string{"-f", "testdata/workspace-pvc.yaml", "--plugins", plugins, "--workspace", "source=testdata"}},
		{name: "workspace-bound-twice", args: []string{"-f", "testdata/workspace.yaml", "--plugins", plugins, "--workspace", "config=testdata", "--workspace", "config=."}},
		{name: "workspace-unknown-binding", args: []string{"-f", "testdata/workspace.yaml", "--plugins", plugins, "--workspace", "config=testdata", "--workspace", "confg=testdata"}},
		{name: "unknown-kind", args: []string{"-f", "testdata/unknown-kind.yaml", "--plugins", plugins}},
		{name: "not-a-customrun", args: []string{"-f", "testdata/not-a-customrun.yaml", "--plugins", plugins}},
		{name: "broken-yaml", args: []string{"-f", "testdata/broken.yaml", "--plugins", plugins}},
		{name: "missing-file", args: []string{"-f", "testdata/nope.yaml", "--plugins", plugins}},
		{name: "not-wasm", args: []string{"-f", "testdata/wait-1s.yaml", "--plugin", "testdata/wait-1s.yaml"}},
		{name: "no-plugin", args: []string{"-f", "testdata/wait-1s.yaml"}},
		{name: "both-plugin-flags", args: []string{"-f", "testdata/wait-1s.yaml", "--plugin", "x.wasm", "--plugins", plugins}},
		{name: "bad-output", args: []string{"-f", "testdata/wait-1s.yaml", "--plugins", plugins, "-o", "xml"}},
		{name: "unknown-command", args: []string{"fly"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// The clock starts before the cancel's timer, which the
			// lower bound of took counts from.
			start := time.Now()
			if tc.cancelAfter > 0 {
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			args := tc.args
			if tc.name != "unknown-command" {
				args = append([]string{"run", "--cache-dir", cache}, args...)
			}
			stdin, _ := os.ReadFile("testdata/wait-1s.yaml")
			var stdout, stderr bytes.Buffer
			code := run(ctx, args, bytes.NewReader(stdin), &stdout, &stderr)
			took := time.Since(start)
			if tc.took[1] > 0 && (took < tc.took[0] || took > tc.took[1]) {
				t.Errorf("took %s; want between %s and %s", took, tc.took[0], tc.took[1])
			}
			got := normalize(fmt.Sprintf("exit code: %d\n--- stdout\n%s--- stderr\n%s", code, stdout.String(), stderr.String()), plugins)
			golden(t, filepath.Join("testdata", tc.name+".golden"), got)
		})
	}
}

// The hostile workspace examples (examples/hostile/src/escape) run
// through the CLI with --workspace: the plugin touches nothing outside the
// directory and the run fails SandboxHeld.
func TestRunWorkspaceAttacks(t *testing.T) {
	plugins := t.TempDir()
	if err := os.WriteFile(filepath.Join(plugins, "escape.wasm"), wasmtest.GoPlugin(t, "../../examples/hostile/src/escape"), 0o644); err != nil {
		t.Fatal(err)
	}
	index := "plugins:\n"
	for _, kind := range []string{"Escape", "DescriptorFlood", "WorkspaceFill"} {
		index += fmt.Sprintf("- {name: %s, apiVersion: hostile.tekton-wasm.dev/v1alpha1, kind: %s, module: escape.wasm}\n", strings.ToLower(kind), kind)
	}
	if err := os.WriteFile(filepath.Join(plugins, "index.yaml"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	for _, tc := range []struct {
		example string
		params  []string
		want    string
	}{
		{"escape", nil, "symlink up -> ../../../../../../../../..: symlink ../../../../../../../../.. /workspace/scratch/up: Operation not permitted"},
		{"descriptor-flood", []string{"max=10000"}, "opened 127 files, then: open /workspace/scratch: I/O error"},
		{"workspace-fill", []string{"max=67108864"}, "then: write /workspace/scratch/fill: I/O error"},
	} {
		t.Run(tc.example, func(t *testing.T) {
			ws, outside := t.TempDir(), t.TempDir()
			secret, target := filepath.Join(outside, "secret"), filepath.Join(outside, "written")
			if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"run", "--cache-dir", cache, "-f", "../../examples/hostile/" + tc.example + ".yaml", "--plugins", plugins,
				"--workspace", "scratch=" + ws, "--param", "secret=" + secret, "--param", "target=" + target}
			for _, p := range tc.params {
				args = append(args, "--param", p)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, nil, &stdout, &stderr)
			if code != 1 || !strings.Contains(stdout.String(), "reason: SandboxHeld") || strings.Contains(stdout.String(), "ALLOWED") {
				t.Fatalf("exit code %d, want 1 and reason SandboxHeld:\n%s\n%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.want) {
				t.Errorf("the status does not say %q:\n%s", tc.want, stdout.String())
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 1 {
				t.Errorf("the plugin created files outside its workspace: %v", entries)
			}
			var total int64
			err := filepath.WalkDir(ws, func(path string, d os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.Type()&os.ModeSymlink != 0 {
					t.Errorf("the plugin made the link %s", path)
				}
				if fi, err := d.Info(); err == nil && d.Type().IsRegular() {
					total += fi.Size()
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if total > sandboxfs.DefaultMaxWriteBytes {
				t.Errorf("the plugin wrote %d bytes in its workspace, more than the %d allowed", total, sandboxfs.DefaultMaxWriteBytes)
			}
		})
	}
}
