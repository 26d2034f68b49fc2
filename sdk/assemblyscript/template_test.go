package guestas

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"text/template"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/probetest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
)

// TestTemplate writes a plugin from template/ as `tkn-wasm init --lang
// assemblyscript` does (each .tmpl file rendered, the SDK copied into
// sdk/ beside it, without its tests), builds it with its one command,
// make, away from this repository, and runs the module in the host's
// engine: it greets its name param, and imports no capability's host
// function. A template whose package-lock.json no
// longer matches the SDK fails here, at npm ci.
func TestTemplate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin with npm and asc")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dir := filepath.Join(t.TempDir(), "greeter")
	data := struct{ Name, Kind, APIVersion, Version string }{"greeter", "Greeter", "greeter.example.dev/v1alpha1", "test"}
	render(t, "template", dir, data)
	copySDK(t, ".", filepath.Join(dir, "sdk"))

	cmd := exec.Command("make")
	cmd.Dir = dir
	cache, err := filepath.Abs(filepath.Join(os.Getenv("HOME"), ".cache", "tekton-wasm", "npm"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "npm_config_cache="+cache, "npm_config_prefer_offline=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make in the plugin written from the template: %v\n%s", err, out)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "greeter.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	// A plugin that calls no capability's wrapper imports none of its
	// host functions (an import names its module and function, each
	// after its length), so it loads without a grant.
	for _, fn := range []string{"http_request", "kubernetes_request"} {
		if bytes.Contains(wasm, []byte("\x06tekton"+string(rune(len(fn)))+fn)) {
			t.Errorf("the plugin imports tekton.%s without calling its wrapper: it would need the grant", fn)
		}
	}
	p := probetest.Compile(t, wasm)
	for _, tt := range []struct {
		name string
		want *hostabi.Response
	}{
		{"world", &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded, Reason: "Greeted", Message: "greeted world",
			Results: []hostabi.Result{{Name: "greeting", Value: "Hello, world!"}}}},
		{"", failed("MissingName", "the name param is empty; pass someone to greet")},
	} {
		var log bytes.Buffer
		got, err := p.Invoke(context.Background(), request("name", tt.name), engine.Invocation{Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("name %q: got %+v, want %+v; log:\n%s", tt.name, got, tt.want, log.String())
		}
	}
}

// render writes every file below from into to, a .tmpl file executed
// with data and without its suffix.
func render(t *testing.T, from, to string, data any) {
	t.Helper()
	walk(t, from, to, nil, func(rel string, b []byte) (string, []byte) {
		if !strings.HasSuffix(rel, ".tmpl") {
			return rel, b
		}
		tmpl, err := template.New(rel).Option("missingkey=error").Parse(string(b))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := tmpl.Execute(&out, data); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(rel, ".tmpl"), out.Bytes()
	})
}

// copySDK copies the SDK as init ships it: not its template, tests,
// installed packages or Go files.
func copySDK(t *testing.T, from, to string) {
	t.Helper()
	skipDir := func(rel string) bool {
		return rel == "template" || rel == "test" || filepath.Base(rel) == "node_modules"
	}
	walk(t, from, to, skipDir, func(rel string, b []byte) (string, []byte) {
		if strings.HasSuffix(rel, ".go") || filepath.Base(rel) == ".gitignore" {
			return "", nil
		}
		return rel, b
	})
}

// walk writes each file below from into to, under the name and with the
// contents f returns ("" skips it), but those in the directories skipDir
// (if not nil) names.
func walk(t *testing.T, from, to string, skipDir func(rel string) bool, f func(rel string, b []byte) (string, []byte)) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() && skipDir != nil && skipDir(filepath.ToSlash(rel)) {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name, out := f(filepath.ToSlash(rel), b)
		if name == "" {
			return nil
		}
		dst := filepath.Join(to, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, out, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
