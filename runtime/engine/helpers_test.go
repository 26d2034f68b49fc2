package engine

import (
	"bytes"
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
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
)

// testCacheDir is the on-disk compilation cache of the engines the tests
// make, so that a module compiles once per test binary: a Go plugin takes
// seconds to compile (a minute under -race), and many tests compile one.
var testCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "engine-test-cache-")
	if err != nil {
		panic(err)
	}
	testCacheDir = dir
	code := m.Run()
	if shared.engine != nil {
		shared.engine.Close(context.Background())
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// wat compiles testdata/<name>.wat.
func wat(tb testing.TB, name string) []byte {
	tb.Helper()
	return wasmtest.WAT(tb, filepath.Join("testdata", name+".wat"))
}

// hostileDemo is the hostile demo directory (make hostile): the modules
// that misbehave on purpose, each also a test of the engine.
var hostileDemo = filepath.Join("..", "..", "examples", "hostile", "src")

// demoWAT compiles the hostile demo module <hostileDemo>/<name>.wat.
func demoWAT(tb testing.TB, name string) []byte {
	tb.Helper()
	return wasmtest.WAT(tb, filepath.Join(hostileDemo, name+".wat"))
}

// goPlugin is testdata/goplugin built as a WASI command.
func goPlugin(tb testing.TB) []byte {
	tb.Helper()
	return wasmtest.GoCommand(tb, filepath.Join("testdata", "goplugin"))
}

// debianRustc is Debian's rustc, whose wasm32-wasi std comes from the
// libstd-rust-dev-wasm32 package; rustup's toolchains lack that target.
const debianRustc = "/usr/bin/rustc"

// rustPlugin builds testdata/<name>/main.rs for wasm32-wasi.
func rustPlugin(tb testing.TB, name string) []byte {
	tb.Helper()
	if _, err := os.Stat("/usr/lib/rustlib/wasm32-wasi/lib"); err != nil {
		tb.Fatalf("Rust's wasm32-wasi std is not installed: run hack/deps.sh (Debian packages rustc, libstd-rust-dev-wasm32)")
	}
	out := filepath.Join(tb.TempDir(), name+".wasm")
	cmd := exec.Command(debianRustc, "--target", "wasm32-wasi", "-O", "-o", out, filepath.Join("testdata", name, "main.rs"))
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

var shared struct {
	once   sync.Once
	engine *Engine
	err    error

	mu       sync.Mutex
	goPlugin map[Limits]*CompiledPlugin
}

// sharedEngine is one Engine for the tests that do not test the engine's
// own lifecycle, with two prepared instances per reactor, so that the
// tests cover prepared instances too (the default is none).
func sharedEngine(tb testing.TB) *Engine {
	tb.Helper()
	shared.once.Do(func() {
		shared.engine, shared.err = New(context.Background(), Config{CacheDir: testCacheDir, WarmInstances: 2})
		shared.goPlugin = map[Limits]*CompiledPlugin{}
	})
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.engine
}

// sharedGoPlugin is the Go test plugin compiled in sharedEngine, kept open
// for the whole test binary: compiling it takes seconds.
func sharedGoPlugin(tb testing.TB, limits Limits) *CompiledPlugin {
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

// newEngine returns an Engine closed at the end of the test, with the
// tests' compilation cache unless cfg names another.
func newEngine(tb testing.TB, cfg Config) *Engine {
	tb.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = testCacheDir
	}
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

func mustCompile(tb testing.TB, e *Engine, wasm []byte, limits Limits) *CompiledPlugin {
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
func invoke(tb testing.TB, p *CompiledPlugin, req *hostabi.Request, inv Invocation) *hostabi.Response {
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

// stopSlack is how late Invoke may return after its context ended, for a
// plugin that would otherwise loop or sleep for good. The engine stops it
// within milliseconds (Invoke's doc); the slack is wide because a machine
// under a load of 8-12 took 109-246 ms, and a plugin the engine failed to
// stop would never return.
const stopSlack = time.Second

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

// invokeConcurrently makes workers×calls invocations of p from workers
// goroutines, each with a log sink, and fails the test for every call that
// errs, does not succeed, or whose results (as fmt prints them) are not
// want: the proof that every call got an instance of its own.
func invokeConcurrently(t *testing.T, p *CompiledPlugin, req *hostabi.Request, workers, calls int, want string) {
	t.Helper()
	errs := make(chan error, workers*calls)
	for range workers {
		go func() {
			for range calls {
				var log bytes.Buffer
				resp, err := p.Invoke(context.Background(), req, Invocation{Log: &log})
				switch {
				case err != nil:
					errs <- err
				case resp.Status != hostabi.StatusSucceeded:
					errs <- fmt.Errorf("%s/%s: %s", resp.Status, resp.Reason, resp.Message)
				case fmt.Sprint(resp.Results) != want:
					errs <- fmt.Errorf("results %v, want %s: the instance was not fresh", resp.Results, want)
				default:
					errs <- nil
				}
			}
		}()
	}
	for range workers * calls {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
