package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/sandboxfs"
)

// The hostile plugin of examples/hostile/src/escape attacks the workspace it is given;
// it ends Failed/SandboxHeld when the host refused every step, and
// Succeeded/SandboxEscaped, listing what it did, when it did not.

func escapePlugin(t *testing.T) *CompiledPlugin {
	t.Helper()
	return mustCompile(t, sharedEngine(t), wasmtest.GoPlugin(t, filepath.Join(hostileDemo, "escape")), Limits{})
}

// attack invokes the escape plugin on a workspace "ws" mounted from dir.
func attack(t *testing.T, p *CompiledPlugin, dir string, readOnly bool, log *bytes.Buffer, params ...string) *hostabi.Response {
	t.Helper()
	req := request(params...)
	req.Workspaces = []hostabi.Workspace{{Name: "ws", Path: hostabi.WorkspacePath("ws"), ReadOnly: readOnly}}
	resp := invoke(t, p, req, Invocation{Log: log, Mounts: []Mount{{HostDir: dir, GuestPath: hostabi.WorkspacePath("ws"), ReadOnly: readOnly}}})
	if resp.Status != hostabi.StatusFailed || resp.Reason != "SandboxHeld" {
		t.Fatalf("got %s/%s, want Failed/SandboxHeld:\n%s", resp.Status, resp.Reason, resp.Message)
	}
	return resp
}

func TestWorkspaceLinksCannotEscape(t *testing.T) {
	p := escapePlugin(t)
	ws, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Links someone else left in the workspace, out of it.
	rel, err := filepath.Rel(ws, secret)
	if err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs": outside, "rel": rel, "dotdot": ".."} {
		if err := os.Symlink(target, filepath.Join(ws, name)); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(outside, "written")

	resp := attack(t, p, ws, false, nil, "attack", "links", "secret", secret, "target", target)
	for _, step := range []string{"symlink up", "read up", "list up", "write up", "link up", "read abs", "read rel", "read dotdot"} {
		if !strings.Contains(resp.Message, step) {
			t.Errorf("the plugin did not report the step %q:\n%s", step, resp.Message)
		}
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("the plugin wrote %s, outside its workspace", target)
	}
	for _, name := range []string{"up", "stolen", "stolen2"} {
		if _, err := os.Lstat(filepath.Join(ws, name)); err == nil {
			t.Errorf("the plugin created the link %s", name)
		}
	}
}

// A link inside the workspace that stays inside is followed.
func TestWorkspaceLinksInsideAreFollowed(t *testing.T) {
	p := sharedGoPlugin(t, Limits{})
	ws := t.TempDir()
	if err := os.Mkdir(filepath.Join(ws, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "data", "f"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("data", filepath.Join(ws, "..data")); err != nil { // as kubelet lays out a configMap volume
		t.Fatal(err)
	}
	got := results(t, invoke(t, p, request("mode", "fs", "read", "/ws/..data/f", "write", "/ws/new"),
		Invocation{Mounts: []Mount{{HostDir: ws, GuestPath: "/ws", ReadOnly: true}}}))
	if got["read"] != "inside" {
		t.Errorf("read through an inside link = %q, want inside", got["read"])
	}
}

func TestWorkspaceReadOnlyRefusesEveryChange(t *testing.T) {
	p := escapePlugin(t)
	ws := t.TempDir()
	file := filepath.Join(ws, "a")
	if err := os.WriteFile(file, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}

	resp := attack(t, p, ws, true, nil, "attack", "readonly")
	lines := strings.Split(resp.Message, "\n")
	if len(lines) != 8 {
		t.Errorf("want 8 steps, got:\n%s", resp.Message)
	}
	for _, line := range lines {
		if !strings.HasSuffix(line, "Read-only file system") {
			t.Errorf("step %q: want EROFS", line)
		}
	}
	after, err := os.Stat(file)
	if b, _ := os.ReadFile(file); err != nil || string(b) != "keep" || after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the read-only file changed: %q, %v, %v -> %v", b, err, before.Mode(), after.Mode())
	}
	if entries, _ := os.ReadDir(ws); len(entries) != 1 {
		t.Errorf("the read-only workspace holds %d entries, want 1", len(entries))
	}
}

var openedFiles = regexp.MustCompile(`^opened (\d+) files, then: open /workspace/ws: I/O error$`)

func TestWorkspaceDescriptorsAreCapped(t *testing.T) {
	p := escapePlugin(t)
	for _, readOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("readOnly=%v", readOnly), func(t *testing.T) {
			var log bytes.Buffer
			resp := attack(t, p, t.TempDir(), readOnly, &log, "attack", "fds", "max", "10000")
			m := openedFiles.FindStringSubmatch(resp.Message)
			if m == nil {
				t.Fatalf("message %q: want opened N files, then EIO", resp.Message)
			}
			// The mount's own directory, opened by wazero on first use,
			// is one of the invocation's descriptors.
			if n, _ := strconv.Atoi(m[1]); n != sandboxfs.DefaultMaxOpenFiles-1 {
				t.Errorf("the plugin opened %d files, want %d", n, sandboxfs.DefaultMaxOpenFiles-1)
			}
			wantNote := fmt.Sprintf("tekton-wasm: the plugin was refused a file: it may hold at most %d files open at once (it got EIO)\n", sandboxfs.DefaultMaxOpenFiles)
			if !strings.HasSuffix(log.String(), wantNote) {
				t.Errorf("log %q does not end with %q", log.String(), wantNote)
			}
			f, err := os.CreateTemp(t.TempDir(), "host")
			if err != nil {
				t.Fatalf("the host cannot open a file after the attack: %v", err)
			}
			f.Close()
		})
	}
}

func TestWorkspaceWritesAreBounded(t *testing.T) {
	p := escapePlugin(t)
	ws := t.TempDir()
	var log bytes.Buffer
	resp := attack(t, p, ws, false, &log, "attack", "fill", "max", strconv.Itoa(8*sandboxfs.DefaultMaxWriteBytes))
	for _, step := range []string{"truncate big to", "write 1 byte at offset", "wrote "} {
		if !strings.Contains(resp.Message, step) {
			t.Errorf("the plugin did not report the step %q:\n%s", step, resp.Message)
		}
	}
	var total int64
	entries, _ := os.ReadDir(ws)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	if max := int64(sandboxfs.DefaultMaxWriteBytes); total > max || total < max-2*sandboxfs.EntryBytes {
		t.Errorf("the plugin's files hold %d bytes; want the budget of %d less its two files' entries", total, max)
	}
	wantNote := fmt.Sprintf("tekton-wasm: the plugin was refused a write: it may add at most %s to its workspaces (it got EIO)\n", formatBytes(sandboxfs.DefaultMaxWriteBytes))
	if !strings.HasSuffix(log.String(), wantNote) {
		t.Errorf("log %q does not end with %q", log.String(), wantNote)
	}
}
