package scaffold

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/internal/scaffold/source"
)

// The embedded archives are those go generate writes from the repository
// now: a change to a template or an SDK without go generate fails here.
func TestArchivesFresh(t *testing.T) {
	for _, l := range source.Languages {
		want, err := source.Archive("../..", l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(source.ArchiveFile(l.Name))
		switch {
		case want == nil && err == nil:
			t.Errorf("%s is embedded but %s is gone; run go generate ./internal/scaffold", source.ArchiveFile(l.Name), source.TemplateDir(l.Name))
		case want != nil && !bytes.Equal(got, want):
			t.Errorf("%s is stale (or missing): run make generate (go generate ./internal/scaffold)", source.ArchiveFile(l.Name))
		}
	}
	if langs := Languages(); !slices.Contains(langs, "go") || !slices.Contains(langs, "c") || !slices.Contains(langs, "rust") {
		t.Errorf("languages %v, want go, c and rust at least", langs)
	}
}

// Write renders the templates and copies the SDK into sdk/.
func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my-task")
	d := Data{Name: "my-task", Kind: Kind("my-task"), APIVersion: "my-task.example.com/v1alpha1", Version: "v9.9.9"}
	files, err := Write(dir, "c", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"plugin.yaml", "main.c", "Makefile", "examples/greet.yaml", "tests/greet.yaml", "sdk/tekton_wasm.h", "sdk/tekton_json.c"} {
		if !slices.Contains(files, f) {
			t.Errorf("%s not written (wrote %v)", f, files)
		}
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: my-task\n", "kind: MyTask\n", "apiVersion: my-task.example.com/v1alpha1\n", "module: my-task.wasm\n"} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("plugin.yaml lacks %q:\n%s", want, manifest)
		}
	}
	sdk, err := os.ReadFile(filepath.Join(dir, "sdk", "tekton_wasm.h"))
	if err != nil {
		t.Fatal(err)
	}
	if orig, _ := os.ReadFile("../../sdk/c/tekton_wasm.h"); !bytes.Equal(sdk, orig) {
		t.Error("sdk/tekton_wasm.h is not the SDK's")
	}
	if _, err := Write(dir, "c", d); err == nil || !strings.Contains(err.Error(), "exists and is not empty") {
		t.Errorf("writing over a plugin: error %v", err)
	}
}

func TestBadInput(t *testing.T) {
	d := Data{Name: "Demo_1", Kind: "Demo", APIVersion: "demo.example.com/v1"}
	if _, err := Write(t.TempDir(), "go", d); err == nil || !strings.Contains(err.Error(), `try "demo-1"`) {
		t.Errorf("a bad name: error %v", err)
	}
	d.Name = "demo"
	if _, err := Write(t.TempDir(), "cobol", d); err == nil || !strings.Contains(err.Error(), "no language \"cobol\"; use one of go, rust, c") {
		t.Errorf("an unknown language: error %v", err)
	}
	for _, bad := range []struct{ kind, apiVersion, want string }{
		{"my task", "demo.example.com/v1", `kind "my task" is not a Kubernetes kind`},
		{"Demo", "v1", `apiVersion "v1" is not GROUP/VERSION`},
		{"Demo", "demo/v1", `apiVersion "demo/v1" is not GROUP/VERSION with a domain`},
		{"Demo", "demo.example.com/one", `apiVersion "demo.example.com/one" is not`},
	} {
		d := Data{Name: "demo", Kind: bad.kind, APIVersion: bad.apiVersion}
		if _, err := Write(t.TempDir(), "go", d); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("kind %q, apiVersion %q: error %v", bad.kind, bad.apiVersion, err)
		}
	}
	for name, want := range map[string]string{"demo": "Demo", "my-task": "MyTask", "a-b-c": "ABC"} {
		if got := Kind(name); got != want {
			t.Errorf("Kind(%q) = %q, want %q", name, got, want)
		}
	}
}
