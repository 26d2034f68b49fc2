package plugintest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
)

// invokeTimeout bounds one invocation in a test.
const invokeTimeout = time.Minute

// Harness is a plugin for `go test`: its directory's manifest and a
// module the test built, compiled in an engine of its own. Its methods
// may be called from any goroutine of the test; the test's Cleanup
// closes it.
type Harness struct {
	*Plugin
	dir string
}

// Load reads dir's plugin.yaml (a test in the plugin's directory passes
// ".") and compiles wasm, the module the test built (nil: the module
// plugin.yaml names, relative to dir), under the manifest's limits and
// grants. The test fails if either is invalid.
func Load(tb testing.TB, dir string, wasm []byte) *Harness {
	tb.Helper()
	p, err := Open(context.Background(), dir, Options{Wasm: wasm})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close(context.Background()) })
	return &Harness{Plugin: p, dir: dir}
}

// Variant is the plugin built another way (say, as a command where the
// plugin ships as a reactor): the same directory and manifest, module
// wasm.
func (h *Harness) Variant(tb testing.TB, wasm []byte) *Harness {
	tb.Helper()
	return Load(tb, h.dir, wasm)
}

// RunCases runs each of the directory's cases (tests/*.yaml) as a
// subtest, through the runner of tkn-wasm run, in parallel; a case fails
// with its differences and the plugin's log.
func (h *Harness) RunCases(t *testing.T) {
	t.Helper()
	cases, err := LoadCases(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			r, err := h.Run(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range r.Diffs {
				t.Error(d)
			}
			if !r.Passed() {
				t.Logf("plugin log:\n%s", r.Log)
			}
		})
	}
}

// Invoke runs req in a fresh instance, as the host does, and returns the
// response: the plugin's own, or a host failure (hostabi.Reason*) saying
// how it misbehaved. The plugin's log is quoted if the invocation fails.
func (h *Harness) Invoke(tb testing.TB, req *hostabi.Request) *hostabi.Response {
	tb.Helper()
	return h.InvokeWith(tb, req, engine.Invocation{})
}

// InvokeWith is Invoke with the host's capabilities and mounts of inv
// (its Log is the test's).
func (h *Harness) InvokeWith(tb testing.TB, req *hostabi.Request, inv engine.Invocation) *hostabi.Response {
	tb.Helper()
	resp, _ := h.call(tb, inv, func(ctx context.Context, inv engine.Invocation) (*hostabi.Response, error) {
		return h.compiled.Invoke(ctx, req, inv)
	})
	return resp
}

// InvokeRaw runs the plugin once, as Invoke does, with stdin as its input,
// which need not be a valid request (the host only sends valid ones). The
// test fails unless the response is the plugin's own: a host failure (the
// plugin exited, trapped, or wrote an invalid response) fails it with the
// host's message and the plugin's log.
func (h *Harness) InvokeRaw(tb testing.TB, stdin []byte) *hostabi.Response {
	tb.Helper()
	resp, log := h.call(tb, engine.Invocation{}, func(ctx context.Context, inv engine.Invocation) (*hostabi.Response, error) {
		return h.compiled.InvokeRaw(ctx, stdin, inv)
	})
	if resp.Status == hostabi.StatusFailed && hostabi.Reserved(resp.Reason) {
		tb.Fatalf("the host failed %s: %s: %s\nlog:\n%s", h.Manifest.Name, resp.Reason, resp.Message, log)
	}
	return resp
}

// call makes one invocation with inv under invokeTimeout and returns its
// response and the plugin's log; the test fails if the plugin was stopped.
func (h *Harness) call(tb testing.TB, inv engine.Invocation, invoke func(context.Context, engine.Invocation) (*hostabi.Response, error)) (*hostabi.Response, []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	var log bytes.Buffer
	inv.Log = &log
	resp, err := invoke(ctx, inv)
	if err != nil {
		tb.Fatalf("invoking %s: %v\nlog:\n%s", h.Manifest.Name, err, log.Bytes())
	}
	return resp, log.Bytes()
}

// WantFail fails tb unless err is a *guest.Error (what a handler returns
// with guest.Fail) with reason, whose message contains every one of
// parts: for tests of a plugin's handler, called without the engine.
func WantFail(tb testing.TB, err error, reason string, parts ...string) {
	tb.Helper()
	var e *guest.Error
	if !errors.As(err, &e) || e.Reason != reason {
		tb.Fatalf("error %v, want reason %s", err, reason)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			tb.Errorf("message %q does not say %q", e.Message, p)
		}
	}
}
