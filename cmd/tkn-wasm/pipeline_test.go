package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
)

// pipelinePlugins is a plugin directory with the wait and semver plugins,
// as make plugins builds bin/plugins.
func pipelinePlugins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range map[string][]byte{
		"wait.wasm":   wasmtest.GoPlugin(t, "../../plugins/wait"),
		"semver.wasm": wasmtest.CPlugin(t, "../../plugins/semver"),
		"index.yaml": []byte("plugins:\n- {name: wait, apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait, module: wait.wasm}\n" +
			"- {name: semver, apiVersion: semver.tekton-wasm.dev/v1alpha1, kind: SemVer, module: semver.wasm, limits: {memory: 16Mi}}\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var elapsed = regexp.MustCompile(`\(\d[\d.]*(ns|µs|ms|s|m\d[\d.]*s)\)`)

// progressLines is stderr's progress lines without their durations, in
// order of task: tasks run in parallel, so only each task's own lines
// have an order.
func progressLines(stderr string) string {
	byTask := map[string][]string{}
	var tasks []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		task, _, _ := strings.Cut(l, " ")
		if _, ok := byTask[task]; !ok {
			tasks = append(tasks, task)
		}
		byTask[task] = append(byTask[task], strings.TrimSpace(elapsed.ReplaceAllString(l, "(<d>)")))
	}
	slices.Sort(tasks)
	var out []string
	for _, t := range tasks {
		out = append(out, byTask[t]...)
	}
	return strings.Join(out, "\n") + "\n"
}

// Every example PipelineRun ends as its demo comment expects, with the
// status in its golden file and the progress lines of each task.
func TestRunPipelineExamples(t *testing.T) {
	plugins, cache := pipelinePlugins(t), t.TempDir()
	examples, _ := filepath.Glob("../../examples/pipelines/*.yaml")
	if len(examples) < 4 {
		t.Fatalf("examples: %v", examples)
	}
	for _, f := range examples {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			src, _ := os.ReadFile(f)
			want := 1
			if bytes.Contains(src, []byte("# demo: expect Succeeded")) {
				want = 0
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"run", "--cache-dir", cache, "-f", f, "--plugins", plugins}, nil, &stdout, &stderr)
			if code != want {
				t.Errorf("exit code %d, want %d:\n%s", code, want, stderr.String())
			}
			golden(t, filepath.Join("testdata", "pipelines", name+".golden"),
				normalize(fmt.Sprintf("exit code: %d\n--- stdout\n%s--- progress\n%s", code, stdout.String(), progressLines(stderr.String())), plugins))
		})
	}
}

// PipelineRuns tkn-wasm cannot run, or is not given what it needs for,
// are usage errors (exit 2) saying why, before anything runs; a
// pipelineRef resolves from --pipelines DIR.
func TestRunPipelineInputs(t *testing.T) {
	plugins, cache := pipelinePlugins(t), t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"task-needs-pods", []string{"-f", "testdata/pipelines/build-task.yaml", "--plugins", plugins}, 2,
			`tkn-wasm: pipeline task "compile" is not a plugin kind (its taskRef or taskSpec has no apiVersion and kind): it runs a Task in pods, which needs a cluster`},
		{"ref-missing", []string{"-f", "testdata/pipelines/ref.yaml", "--plugins", plugins}, 2,
			`no Pipeline "parse-only" was given; pass its file with -f or its directory with --pipelines`},
		{"ref-dir", []string{"-f", "testdata/pipelines/ref.yaml", "--pipelines", "testdata/pipelines/dir", "--plugins", plugins, "-o", "json"}, 0,
			`"value": "1"`},
		{"ref-file", []string{"-f", "testdata/pipelines/ref.yaml", "-f", "testdata/pipelines/dir/parse-only.yaml", "--plugins", plugins, "--param", "version=2.3.4"}, 0,
			`value: "3"`},
		{"all", []string{"-f", "testdata/pipelines/ref.yaml", "--pipelines", "testdata/pipelines/dir", "--plugins", plugins, "--all", "-o", "json"}, 0,
			`"kind": "CustomRun",
      "metadata": {
        "creationTimestamp": `},
		{"twice", []string{"-f", "testdata/pipelines/ref.yaml", "-f", "testdata/pipelines/dir/parse-only.yaml", "--pipelines", "testdata/pipelines/dir", "--plugins", plugins}, 2,
			`Pipeline "parse-only" is given twice`},
		{"plugin-flag", []string{"-f", "testdata/pipelines/ref.yaml", "--plugin", filepath.Join(plugins, "wait.wasm")}, 2,
			`a PipelineRun runs with --plugins DIR`},
		{"two-customruns", []string{"-f", "testdata/wait-1s.yaml", "-f", "testdata/wait-1s.yaml", "--plugins", plugins}, 2,
			`-f is given 2 times; more than one file is for a PipelineRun and its Pipelines`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"run", "--cache-dir", cache}, tc.args...), nil, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
				t.Errorf("exit code %d, want %d and output with %q:\n%s\n%s", code, tc.code, tc.want, stdout.String(), stderr.String())
			}
		})
	}
}

// golden compares got with the file, or writes it with -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s (-want +got):\n%s", file, d)
	}
}
