package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// buildDir holds modules built once per test binary (the Go plugin).
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	if shared.engine != nil {
		shared.engine.Close(context.Background())
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// wat compiles testdata/<name>.wat with wabt's wat2wasm.
func wat(tb testing.TB, name string) []byte {
	tb.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		tb.Fatalf("wat2wasm is not installed: the engine's tests build their hostile modules with it; run hack/deps.sh (Debian package wabt)")
	}
	out := filepath.Join(tb.TempDir(), name+".wasm")
	if b, err := exec.Command("wat2wasm", filepath.Join("testdata", name+".wat"), "-o", out).CombinedOutput(); err != nil {
		tb.Fatalf("wat2wasm testdata/%s.wat: %v\n%s", name, err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

var goPluginBuild struct {
	once sync.Once
	wasm []byte
	err  error
}

// goPlugin builds testdata/goplugin for wasip1, once per test binary.
func goPlugin(tb testing.TB) []byte {
	tb.Helper()
	b := &goPluginBuild
	b.once.Do(func() {
		out := filepath.Join(buildDir, "goplugin.wasm")
		cmd := exec.Command("go", "build", "-o", out, "./testdata/goplugin")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("GOOS=wasip1 GOARCH=wasm go build ./testdata/goplugin: %v\n%s", err, msg)
			return
		}
		b.wasm, b.err = os.ReadFile(out)
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.wasm
}

var shared struct {
	once   sync.Once
	engine *Engine
	err    error

	mu       sync.Mutex
	goPlugin map[Limits]*Plugin
}

// sharedEngine is one Engine for the tests that do not test the engine's
// own lifecycle.
func sharedEngine(tb testing.TB) *Engine {
	tb.Helper()
	shared.once.Do(func() {
		shared.engine, shared.err = New(context.Background(), Config{})
		shared.goPlugin = map[Limits]*Plugin{}
	})
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.engine
}

// sharedGoPlugin is the Go test plugin compiled in sharedEngine, kept open
// for the whole test binary: compiling it takes seconds.
func sharedGoPlugin(tb testing.TB, limits Limits) *Plugin {
	tb.Helper()
	e := sharedEngine(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if p := shared.goPlugin[limits]; p != nil {
		return p
	}
	p, err := e.Compile(context.Background(), goPlugin(tb), limits)
	if err != nil {
		tb.Fatalf("Compile the Go plugin: %v", err)
	}
	shared.goPlugin[limits] = p
	return p
}

func newEngine(tb testing.TB, cfg Config) *Engine {
	tb.Helper()
	e, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return e
}

func mustCompile(tb testing.TB, e *Engine, wasm []byte, limits Limits) *Plugin {
	tb.Helper()
	p, err := e.Compile(context.Background(), wasm, limits)
	if err != nil {
		tb.Fatalf("Compile: %v", err)
	}
	tb.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// request is a Request with string params given as name, value pairs.
func request(params ...string) *hostabi.Request {
	req := &hostabi.Request{
		ABIVersion: hostabi.Version,
		Run:        hostabi.RunIdentity{Name: "run-1", Namespace: "default"},
		APIVersion: "example.dev/v1",
		Kind:       "Test",
		Attempt:    1,
		StartTime:  time.Now(),
	}
	for i := 0; i+1 < len(params); i += 2 {
		req.Params = append(req.Params, hostabi.Param{Name: params[i], Value: hostabi.StringValue(params[i+1])})
	}
	return req
}

// invoke runs req with a generous timeout: the tests that use it expect
// the plugin to end by itself.
func invoke(tb testing.TB, p *Plugin, req *hostabi.Request, inv Invocation) *hostabi.Response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := p.Invoke(ctx, req, inv)
	if err != nil {
		tb.Fatalf("Invoke: %v", err)
	}
	return resp
}

// wantFailed asserts a host failure with reason and a message holding
// every one of parts.
func wantFailed(tb testing.TB, resp *hostabi.Response, reason string, parts ...string) {
	tb.Helper()
	if resp.Status != hostabi.StatusFailed || resp.Reason != reason {
		tb.Fatalf("got %s/%s (%q), want Failed/%s", resp.Status, resp.Reason, resp.Message, reason)
	}
	for _, part := range parts {
		if !strings.Contains(resp.Message, part) {
			tb.Errorf("message %q does not contain %q", resp.Message, part)
		}
	}
}

// results returns resp's results by name after asserting it Succeeded.
func results(tb testing.TB, resp *hostabi.Response) map[string]string {
	tb.Helper()
	if resp.Status != hostabi.StatusSucceeded {
		tb.Fatalf("got %s/%s (%q), want Succeeded", resp.Status, resp.Reason, resp.Message)
	}
	m := map[string]string{}
	for _, r := range resp.Results {
		m[r.Name] = r.Value
	}
	return m
}

// wantCtxErr asserts that Invoke ended with want no later than slack
// after the moment ctx ended.
func wantCtxErr(tb testing.TB, err, want error, ended, returned time.Time, slack time.Duration) {
	tb.Helper()
	if err != want {
		tb.Fatalf("Invoke error = %v, want exactly %v", err, want)
	}
	if late := returned.Sub(ended); late > slack {
		tb.Fatalf("Invoke returned %v after the context ended; want at most %v", late, slack)
	}
}
