package guest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sdkModule is the module path of the guest SDK (hostabi and hostabi/guest).
const sdkModule = "github.com/tekton-wasm/tekton-wasm/hostabi"

// TestExternalPluginRequiresOnlySDK builds a plugin in a module of its own
// (testdata/external), set up as the README tells a plugin author: one
// requirement, the SDK, here replaced by this checkout. The build must
// succeed offline and the plugin's module graph and go.sum must hold
// nothing but the SDK: the SDK promises the standard library only.
func TestExternalPluginRequiresOnlySDK(t *testing.T) {
	sdkDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "external", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		// Offline and outside any workspace: whatever the plugin needs
		// beyond the SDK would have to be downloaded, and fails here.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local",
			"GOOS=wasip1", "GOARCH=wasm")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("mod", "init", "example.com/external")
	goCmd("mod", "edit", "-require="+sdkModule+"@v0.0.0", "-replace="+sdkModule+"="+sdkDir)
	goCmd("build", "-trimpath", "-buildmode=c-shared", "-o", "external.wasm", ".")
	wasm, err := os.ReadFile(filepath.Join(dir, "external.wasm"))
	if err != nil || len(wasm) == 0 {
		t.Fatalf("no module built: %v", err)
	}
	// A plugin that does not call DoHTTP does not import the host
	// function (an import names its module and function, each after its
	// length), so it loads without the http grant.
	if bytes.Contains(wasm, []byte("\x06tekton\x0chttp_request")) {
		t.Error("the plugin imports tekton.http_request without calling guest.DoHTTP: it would need the http grant")
	}

	modules := strings.Fields(goCmd("list", "-m", "-f", "{{.Path}}", "all"))
	if want := []string{"example.com/external", sdkModule}; strings.Join(modules, " ") != strings.Join(want, " ") {
		t.Errorf("the plugin's module graph is %q, want only %q", modules, want)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(sum)), "\n") {
		if line != "" && !strings.HasPrefix(line, sdkModule+" ") {
			t.Errorf("the plugin's go.sum lists %q; it should list nothing but the SDK", line)
		}
	}
}
