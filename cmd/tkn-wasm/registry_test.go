package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// cli runs the command and returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

// okModule writes the engine's well-behaved test module to a file.
func okModule(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ok.wasm")
	// (module (memory (export "memory") 2 4) (func (export "_start")))
	wasm := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type: () -> ()
		"\x03\x02\x01\x00" + // func 0: type 0
		"\x05\x04\x01\x01\x02\x04" + // memory: min 2, max 4
		"\x07\x13\x02\x06memory\x02\x00\x06_start\x00\x00" + // exports
		"\x0a\x04\x01\x02\x00\x0b") // code: an empty body
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsRegistry starts a registry over TLS with its own CA, and returns its
// host and a PEM file of the CA.
func tlsRegistry(t *testing.T) (host, ca string) {
	host, ca, _ = tlsRegistryWithClose(t)
	return host, ca
}

// tlsRegistryWithClose is tlsRegistry, also returning a function that
// stops the registry.
func tlsRegistryWithClose(t *testing.T) (host, ca string, stop func()) {
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("SSL_CERT_FILE", "")
	return strings.TrimPrefix(srv.URL, "https://"), ca, srv.Close
}

func TestPushPullInspect(t *testing.T) {
	host, ca := tlsRegistry(t)
	module := okModule(t)
	code, stdout, stderr := cli(t, "push", module, host+"/plugins/ok:v1", "--api-version", "ok.tekton-wasm.dev/v1", "--kind", "Ok", "--memory", "1Mi", "--ca-file", ca)
	if code != 0 {
		t.Fatalf("push: exit %d, stderr %s", code, stderr)
	}
	ref := strings.TrimSpace(stdout)
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(host) + `/plugins/ok@sha256:[0-9a-f]{64}$`).MatchString(ref) {
		t.Fatalf("push printed %q; want %s/plugins/ok@sha256:…", stdout, host)
	}

	out := filepath.Join(t.TempDir(), "pulled.wasm")
	code, stdout, stderr = cli(t, "pull", ref, "-o", out, "--ca-file", ca)
	if code != 0 || strings.TrimSpace(stdout) != ref {
		t.Fatalf("pull: exit %d, stdout %q, stderr %s; want %s", code, stdout, stderr, ref)
	}
	pulled, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := manifest.Embedded(pulled)
	if err != nil || p == nil || p.Kind != "Ok" || p.Name != "ok" || p.Limits.Memory.String() != "1Mi" {
		t.Fatalf("the pulled module carries %+v, %v; want the pushed manifest", p, err)
	}

	// inspect says the same of the file and of the artifact.
	want := `exports:
- _start
imports: []
kind: command
manifest:
  apiVersion: ok.tekton-wasm.dev/v1
  kind: Ok
  limits:
    memory: 1Mi
  name: ok
memory:
  max: 256Ki
  min: 128Ki
sha256: ` + wasmmodule.Digest(pulled) + `
size: ` + strconv.Itoa(len(pulled)) + `
source: SOURCE
`
	for _, source := range []string{out, ref, "oci://" + ref} {
		code, stdout, stderr = cli(t, "inspect", source, "--ca-file", ca)
		wantSource := source
		if source != out {
			wantSource = ref
		}
		if w := strings.Replace(want, "SOURCE", wantSource, 1); code != 0 || stdout != w {
			t.Errorf("inspect %s: exit %d, stderr %s, stdout\n%s\nwant\n%s", source, code, stderr, stdout, w)
		}
	}

	// pack needs no flags for a module that carries its manifest.
	code, stdout, stderr = cli(t, "pack", out)
	if code != 0 {
		t.Fatalf("pack of the pulled module: exit %d, stderr %s", code, stderr)
	}
	var cm struct{ Data map[string]string }
	if err := yaml.Unmarshal([]byte(stdout), &cm); err != nil || !strings.Contains(cm.Data["plugin.yaml"], "kind: Ok") {
		t.Errorf("pack printed %s (%v); want the manifest the module carries", stdout, err)
	}
}

func TestPushPullErrors(t *testing.T) {
	host, ca := tlsRegistry(t)
	module := okModule(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"push without kind", []string{"push", module, host + "/plugins/ok:v1"}, exitUsage,
			"push needs --api-version and --kind (the custom task the plugin serves), or a manifest that gives them"},
		{"push without reference", []string{"push", module, "--kind", "Ok"}, exitUsage, "push takes a module file and a reference"},
		{"push to an untrusted registry", []string{"push", module, host + "/plugins/ok:v1", "--api-version", "a/v1", "--kind", "Ok"}, 1,
			"trust the registry's CA with --ca-file or SSL_CERT_FILE"},
		{"pull without -o", []string{"pull", host + "/plugins/ok:v1"}, exitUsage, "pull takes a reference and -o FILE"},
		{"pull a missing artifact", []string{"pull", host + "/plugins/missing:v1", "-o", filepath.Join(t.TempDir(), "x"), "--ca-file", ca}, 1,
			"pulling " + host + "/plugins/missing:v1"},
		{"bad CA file", []string{"pull", host + "/plugins/ok:v1", "-o", "x", "--ca-file", module}, exitUsage, "holds no PEM certificate"},
		{"inspect a missing file", []string{"inspect", "missing.wasm"}, exitUsage, "reading the module"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

func TestPushWithAManifestFile(t *testing.T) {
	host, ca := tlsRegistry(t)
	module := okModule(t)
	mf := filepath.Join(t.TempDir(), "plugin.yaml")
	wasm, _ := os.ReadFile(module)
	if err := os.WriteFile(mf, []byte("name: okay\napiVersion: ok.tekton-wasm.dev/v1\nkind: Ok\nmodule: ok.wasm\nsha256: "+wasmmodule.Digest(wasm)+"\nlimits: {concurrency: 3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Flags override the file.
	code, stdout, stderr := cli(t, "push", module, host+"/plugins/ok:v1", "--manifest", mf, "--kind", "Okay", "--ca-file", ca)
	if code != 0 {
		t.Fatalf("push: exit %d, stderr %s", code, stderr)
	}
	code, stdout, stderr = cli(t, "inspect", strings.TrimSpace(stdout), "--ca-file", ca, "-o", "json")
	for _, want := range []string{`"name": "okay"`, `"kind": "Okay"`, `"concurrency": 3`} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("inspect: exit %d, stderr %s, stdout %s; want %s", code, stderr, stdout, want)
		}
	}
	// A pin that does not match the module is refused.
	if err := os.WriteFile(mf, []byte("name: okay\napiVersion: a/v1\nkind: Ok\nmodule: ok.wasm\nsha256: "+strings.Repeat("0", 64)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cli(t, "push", module, host+"/plugins/ok:v1", "--manifest", mf, "--ca-file", ca); code != exitUsage || !strings.Contains(stderr, "but the manifest pins") {
		t.Errorf("push with a wrong pin: exit %d, stderr %s", code, stderr)
	}
}

func TestPackEmbed(t *testing.T) {
	module := okModule(t)
	code, stdout, stderr := cli(t, "pack", module, "--api-version", "ok.tekton-wasm.dev/v1", "--kind", "Ok", "--embed")
	if code != 0 {
		t.Fatalf("pack --embed: exit %d, stderr %s", code, stderr)
	}
	var cm struct {
		Data       map[string]string
		BinaryData map[string][]byte `json:"binaryData"`
	}
	if err := yaml.Unmarshal([]byte(stdout), &cm); err != nil {
		t.Fatal(err)
	}
	wasm := cm.BinaryData["ok.wasm"]
	p, err := manifest.Embedded(wasm)
	if err != nil || p == nil || p.Kind != "Ok" {
		t.Errorf("the packed module carries %+v, %v; want its manifest", p, err)
	}
	if !strings.Contains(cm.Data["plugin.yaml"], "sha256: "+wasmmodule.Digest(wasm)) {
		t.Errorf("plugin.yaml %s does not pin the module with its manifest, %s", cm.Data["plugin.yaml"], wasmmodule.Digest(wasm))
	}
}

func TestRunPluginFromARegistry(t *testing.T) {
	host, ca, closeRegistry := tlsRegistryWithClose(t)
	t.Setenv("SSL_CERT_FILE", ca) // run has no --ca-file
	module := filepath.Join(t.TempDir(), "ok.wasm")
	if err := os.WriteFile(module, wasmtest.WAT(t, "../../runtime/engine/testdata/ok.wat"), 0o644); err != nil {
		t.Fatal(err)
	}
	customRun := filepath.Join(t.TempDir(), "run.yaml")
	if err := os.WriteFile(customRun, []byte("apiVersion: tekton.dev/v1beta1\nkind: CustomRun\nmetadata: {name: ok}\nspec:\n  customRef: {apiVersion: ok.tekton-wasm.dev/v1, kind: Ok}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	push := func(tag string, flags ...string) string {
		code, stdout, stderr := cli(t, append([]string{"push", module, host + "/plugins/ok:" + tag, "--api-version", "ok.tekton-wasm.dev/v1", "--kind", "Ok"}, flags...)...)
		if code != 0 {
			t.Fatalf("push: exit %d, stderr %s", code, stderr)
		}
		return strings.TrimSpace(stdout)
	}
	ref := push("v1")
	code, stdout, stderr := cli(t, "run", "-f", customRun, "--plugin", "oci://"+ref, "--cache-dir", "")
	if code != 0 || !strings.Contains(stdout, "value: \"42\"") {
		t.Errorf("run --plugin oci://…: exit %d, stdout %s, stderr %s; want it to succeed", code, stdout, stderr)
	}
	// A plugin directory's index may name the module in a registry; the
	// index's manifest applies, its sha256 pin included.
	dir := t.TempDir()
	index := func(extra string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "index.yaml"), []byte("plugins:\n- {name: ok, apiVersion: ok.tekton-wasm.dev/v1, kind: Ok, module: 'oci://"+ref+"'"+extra+"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	index("")
	if code, stdout, stderr := cli(t, "run", "-f", customRun, "--plugins", dir, "--cache-dir", ""); code != 0 || !strings.Contains(stdout, "value: \"42\"") {
		t.Errorf("run --plugins DIR naming oci://…: exit %d, stdout %s, stderr %s; want it to succeed", code, stdout, stderr)
	}
	index(", sha256: '" + strings.Repeat("0", 64) + "'")
	if code, _, stderr := cli(t, "run", "-f", customRun, "--plugins", dir, "--cache-dir", ""); code != exitUsage || !strings.Contains(stderr, "but the manifest pins "+strings.Repeat("0", 64)) {
		t.Errorf("run --plugins DIR with a wrong pin: exit %d, stderr %s; want the pin mismatch", code, stderr)
	}

	// The module is cached by digest: a second run pulls nothing, and
	// works with the registry gone.
	closeRegistry()
	code, stdout, stderr = cli(t, "run", "-f", customRun, "--plugin", "oci://"+ref, "--cache-dir", "")
	if code != 0 || !strings.Contains(stdout, "value: \"42\"") {
		t.Errorf("second run --plugin oci://…, registry stopped: exit %d, stdout %s, stderr %s; want it to succeed from the cache", code, stdout, stderr)
	}
	host, ca = tlsRegistry(t)
	t.Setenv("SSL_CERT_FILE", ca)

	// The limits come from the manifest the module carries: 64Ki is less
	// than the module's memory.
	small := push("small", "--memory", "64Ki")
	if code, _, stderr := cli(t, "run", "-f", customRun, "--plugin", "oci://"+small, "--cache-dir", ""); code != exitUsage || !strings.Contains(stderr, "raise the plugin's memory limit") {
		t.Errorf("run with the carried 64Ki limit: exit %d, stderr %s; want the memory limit refused", code, stderr)
	}

	for _, tc := range []struct{ plugin, want string }{
		{"oci://" + host + "/plugins/ok:v1", "names no digest; a tag can change"},
		{"oci://" + host + "/plugins/missing@sha256:" + strings.Repeat("0", 64), "--plugin: pulling " + host + "/plugins/missing@sha256:"},
	} {
		if code, _, stderr := cli(t, "run", "-f", customRun, "--plugin", tc.plugin, "--cache-dir", ""); code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("run --plugin %s: exit %d, stderr %s; want %d and %q", tc.plugin, code, stderr, exitUsage, tc.want)
		}
	}
}

func TestEmbed(t *testing.T) {
	module := okModule(t)
	mf := filepath.Join(t.TempDir(), "plugin.yaml")
	if err := os.WriteFile(mf, []byte("name: ok\napiVersion: ok.tekton-wasm.dev/v1\nkind: Ok\nmodule: ok.wasm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "embedded.wasm")
	code, stdout, stderr := cli(t, "embed", module, "--manifest", mf, "-o", out)
	if code != 0 {
		t.Fatalf("embed: exit %d, stderr %s", code, stderr)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := out + " sha256:" + wasmmodule.Digest(wasm) + "\n"; stdout != want {
		t.Errorf("embed printed %q; want %q", stdout, want)
	}
	if p, err := manifest.Embedded(wasm); err != nil || p == nil || p.Kind != "Ok" {
		t.Errorf("the module carries %+v, %v; want the manifest", p, err)
	}
	// In place, flags over the manifest the module carries.
	if code, _, stderr := cli(t, "embed", out, "--kind", "Other"); code != 0 {
		t.Fatalf("embed in place: exit %d, stderr %s", code, stderr)
	}
	wasm, _ = os.ReadFile(out)
	if p, err := manifest.Embedded(wasm); err != nil || p == nil || p.Kind != "Other" || p.APIVersion != "ok.tekton-wasm.dev/v1" {
		t.Errorf("after embed --kind Other the module carries %+v, %v", p, err)
	}
}
