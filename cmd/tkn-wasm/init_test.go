package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/internal/scaffold"
)

// For each language, a plugin init writes builds with make, with nothing
// but its directory, and its sample CustomRun and test cases pass under
// run and test. Rust builds share a Cargo target directory in the user's
// cache, so the SDK's dependencies are compiled once; AssemblyScript's
// npm ci uses the npm cache hack/asbuild.sh fills.
func TestInitBuildTest(t *testing.T) {
	cache := t.TempDir()
	for _, lang := range scaffold.Languages() {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "demo-"+lang)
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"init", dir, "--lang", lang}, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("init: exit code %d\n%s%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "cd "+dir+" && make && tkn-wasm test") {
				t.Errorf("init does not say how to build and test:\n%s", stdout.String())
			}
			make := exec.Command("make")
			make.Dir = dir
			make.Env = append(os.Environ(), "CARGO_TARGET_DIR="+cargoTargetDir(t), "npm_config_cache="+npmCache())
			if out, err := make.CombinedOutput(); err != nil {
				t.Fatalf("make: %v\n%s\n(hack/deps.sh installs clang, wasi-libc, cargo and the Rust crates)", err, out)
			}
			stdout.Reset()
			stderr.Reset()
			if code := run(context.Background(), []string{"test", dir, "--cache-dir", cache}, nil, &stdout, &stderr); code != 0 || !strings.HasSuffix(stdout.String(), "2 passed, 0 failed\n") {
				t.Errorf("test: exit code %d\n%s%s", code, stdout.String(), stderr.String())
			}
			stdout.Reset()
			stderr.Reset()
			args := []string{"run", "-f", filepath.Join(dir, "examples", "greet.yaml"), "--plugin", filepath.Join(dir, "demo-"+lang+".wasm"), "--param", "name=you", "--cache-dir", cache}
			if code := run(context.Background(), args, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "value: Hello, you!") {
				t.Errorf("run: exit code %d\n%s%s", code, stdout.String(), stderr.String())
			}
		})
	}
}

// cargoTargetDir is the Cargo target directory Rust plugins of the tests
// share, in the user's cache (a temporary one without).
func cargoTargetDir(t *testing.T) string {
	d, err := os.UserCacheDir()
	if err != nil {
		return t.TempDir()
	}
	return filepath.Join(d, "tekton-wasm", "init-test-cargo")
}

// npmCache is the npm cache hack/asbuild.sh uses ($TEKTON_WASM_NPM_CACHE,
// default ~/.cache/tekton-wasm/npm).
func npmCache() string {
	if d := os.Getenv("TEKTON_WASM_NPM_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "tekton-wasm", "npm")
}
