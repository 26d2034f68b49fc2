package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
)

// guestPlugin is testdata/guestplugin, built as a reactor or a command.
func guestPlugin(tb testing.TB, reactor bool) []byte {
	tb.Helper()
	dir := filepath.Join("testdata", "guestplugin")
	if reactor {
		return wasmtest.GoPlugin(tb, dir)
	}
	return wasmtest.GoCommand(tb, dir)
}

// cReactor is testdata/creactor, a reactor in C.
func cReactor(tb testing.TB) []byte {
	tb.Helper()
	return wasmtest.CPlugin(tb, filepath.Join("testdata", "creactor"))
}

// waitWarm waits until p's pool holds n prepared instances.
func waitWarm(tb testing.TB, p *CompiledPlugin, n int) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(p.c.warm.ready) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("the pool holds %d prepared instances after 30s; want %d", len(p.c.warm.ready), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// warmUp starts p's pool with one invocation and waits until it is full.
func warmUp(tb testing.TB, p *CompiledPlugin, req *hostabi.Request) {
	tb.Helper()
	if _, err := p.Invoke(context.Background(), req, Invocation{}); err != nil {
		tb.Fatal(err)
	}
	waitWarm(tb, p, cap(p.c.warm.ready))
}

func TestCompileTellsCommandsFromReactors(t *testing.T) {
	e := sharedEngine(t)
	for _, tc := range []struct {
		name string
		wasm []byte
		want moduleKind
	}{
		{"WAT command", wat(t, "ok"), kindCommand},
		{"WAT reactor", wat(t, "reactor_counter"), kindReactor},
		{"Go command", guestPlugin(t, false), kindCommand},
		{"Go reactor", guestPlugin(t, true), kindReactor},
		{"C reactor", cReactor(t), kindReactor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, e, tc.wasm, Limits{})
			if p.c.kind != tc.want {
				t.Errorf("kind = %v, want %v", p.c.kind, tc.want)
			}
			if hasPool := p.c.warm != nil; hasPool != (tc.want == kindReactor) {
				t.Errorf("has a pool of prepared instances: %v", hasPool)
			}
		})
	}
}

// Every invocation of a reactor gets a fresh instance, initialized once,
// whether it was prepared ahead of demand or made for the call, also when
// many run at once and drain the pool.
func TestReactorInstancesAreSingleUse(t *testing.T) {
	cReq := request()
	for _, tc := range []struct {
		name string
		wasm func(testing.TB) []byte
		req  *hostabi.Request
		want string
	}{
		{"WAT", func(tb testing.TB) []byte { return wat(tb, "reactor_counter") }, request(), "[{global 1} {memory 1} {init 1}]"},
		{"Go", func(tb testing.TB) []byte { return guestPlugin(tb, true) }, request("mode", "count"), "[{count 1}]"},
		{"C", cReactor, cReq, fmt.Sprintf("[{calls 1} {length %d}]", requestLength(t, cReq))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, sharedEngine(t), tc.wasm(t), Limits{})
			warmUp(t, p, tc.req)
			invokeConcurrently(t, p, tc.req, 8, 8, tc.want)
		})
	}
}

// What a reactor logs in _initialize reaches Invocation.Log, also when the
// instance was prepared before the call.
func TestReactorInitializationLog(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "reactor_counter"), Limits{})
	for _, prepared := range []bool{false, true} {
		if prepared {
			waitWarm(t, p, 1)
		}
		var log bytes.Buffer
		results(t, invoke(t, p, request(), Invocation{Log: &log}))
		if log.String() != "initialized\n" {
			t.Errorf("prepared=%v: Invocation.Log got %q, want %q", prepared, log.String(), "initialized\n")
		}
	}
}

// A prepared Go instance serves the request it is handed, reads the wall
// clock at the call, not at its preparation, and draws fresh randomness.
func TestReactorPreparedInstanceLivesInTheCall(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), guestPlugin(t, true), Limits{})
	warmUp(t, p, request("mode", "echo"))
	const idle = 300 * time.Millisecond
	time.Sleep(idle)

	req := request("mode", "echo", "extra", "x")
	req.Run.Name = "run-42"
	if got := results(t, invoke(t, p, req, Invocation{})); got["run"] != "run-42" || got["params"] != "mode,extra" {
		t.Errorf("results = %v; want the request's run and params", got)
	}

	called := time.Now()
	first := results(t, invoke(t, p, request("mode", "clock"), Invocation{}))
	second := results(t, invoke(t, p, request("mode", "clock"), Invocation{}))
	initialized, err := time.Parse(time.RFC3339Nano, first["initialized"])
	if err != nil {
		t.Fatal(err)
	}
	now, err := time.Parse(time.RFC3339Nano, first["now"])
	if err != nil {
		t.Fatal(err)
	}
	if d := called.Sub(initialized); d < idle {
		t.Errorf("the instance was initialized %v before the call; want a prepared one, at least %v", d, idle)
	}
	if d := now.Sub(called); d < 0 || d > time.Second {
		t.Errorf("the plugin's clock read %v, %v after the call started; want the time of the call", now, d)
	}
	if len(first["random"]) != 32 || first["random"] == second["random"] {
		t.Errorf("random bytes %q then %q: want 16 fresh bytes per call", first["random"], second["random"])
	}
}

// Deadlines and cancellation stop a prepared instance as quickly as a
// fresh one: close-on-context-done and the sleep follow the call's
// context, not the preparation's.
func TestReactorDeadlineAndCancel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		wasm   func(testing.TB) []byte
		req    *hostabi.Request
		cancel bool
	}{
		{"WAT loop, deadline", func(tb testing.TB) []byte { return wat(tb, "reactor_loop") }, request(), false},
		{"WAT sleep, cancel", func(tb testing.TB) []byte { return wat(tb, "reactor_sleep") }, request(), true},
		{"Go sleep, deadline", func(tb testing.TB) []byte { return guestPlugin(tb, true) }, request("mode", "sleep"), false},
		{"Go sleep, cancel", func(tb testing.TB) []byte { return guestPlugin(tb, true) }, request("mode", "sleep"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Its own engine: the test closes the plugin's pool.
			p := mustCompile(t, newEngine(t, Config{WarmInstances: 2}), tc.wasm(t), Limits{})
			// Fill the pool without waiting for a call that never ends.
			p.c.warm.refill()
			waitWarm(t, p, cap(p.c.warm.ready))
			for _, prepared := range []bool{true, false} {
				if !prepared {
					// Drain the pool, so that the call makes its own instance.
					for len(p.c.warm.ready) > 0 {
						(<-p.c.warm.ready).close()
					}
					p.c.warm.close()
				}
				const after = 300 * time.Millisecond
				var (
					ctx    context.Context
					cancel context.CancelFunc
					ended  time.Time
					want   error
				)
				if tc.cancel {
					ctx, cancel = context.WithCancel(context.Background())
					ended, want = time.Now().Add(after), context.Canceled
					time.AfterFunc(after, cancel)
				} else {
					ctx, cancel = context.WithTimeout(context.Background(), after)
					ended, _ = ctx.Deadline()
					want = context.DeadlineExceeded
				}
				resp, err := p.Invoke(ctx, tc.req, Invocation{})
				cancel()
				if resp != nil {
					t.Errorf("prepared=%v: got a response %+v with the error", prepared, resp)
				}
				wantCtxErr(t, err, want, ended, time.Now(), stopSlack)
			}
		})
	}
}

// A reactor that fails in _initialize fails every call the same way, and
// its pool stops preparing instances.
func TestReactorInitializationFails(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "reactor_init_trap"), Limits{})
	for range 2 {
		resp := invoke(t, p, request(), Invocation{})
		wantFailed(t, resp, hostabi.ReasonTrapped, "the plugin trapped: wasm error: unreachable; log:\ninitializing\nwasm stack trace:")
		p.c.warm.wg.Wait()
		p.c.warm.mu.Lock()
		stopped := p.c.warm.stopped
		p.c.warm.mu.Unlock()
		if !stopped || len(p.c.warm.ready) != 0 {
			t.Errorf("pool stopped=%v with %d instances; want it stopped and empty", stopped, len(p.c.warm.ready))
		}
	}

	p = mustCompile(t, sharedEngine(t), wat(t, "reactor_init_exit"), Limits{})
	wantFailed(t, invoke(t, p, request(), Invocation{}), hostabi.ReasonLoadFailed,
		"the plugin exited in _initialize, before tekton_run could be called (its log is empty)")
}

// An invocation with mounts gets an instance made for it: the mounts are
// part of the instance.
func TestReactorMounts(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), guestPlugin(t, true), Limits{})
	warmUp(t, p, request("mode", "echo"))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := results(t, invoke(t, p, request("mode", "read", "path", "/ro/hello.txt"),
		Invocation{Mounts: []Mount{{HostDir: dir, GuestPath: "/ro", ReadOnly: true}}}))
	if got["content"] != "hello" {
		t.Errorf("content = %q, want hello", got["content"])
	}
	if n := len(p.c.warm.ready); n != cap(p.c.warm.ready) {
		t.Errorf("the invocation with mounts took a prepared instance: %d left of %d", n, cap(p.c.warm.ready))
	}
	resp := invoke(t, p, request("mode", "read", "path", "/ro/hello.txt"), Invocation{})
	wantFailed(t, resp, guest.ReasonFailed, "open /ro/hello.txt")
}

func TestReactorGoPanicIsAFailedResponse(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), guestPlugin(t, true), Limits{})
	wantFailed(t, invoke(t, p, request("mode", "panic"), Invocation{}), guest.ReasonPanicked, "the plugin panicked: boom")
}

func TestWarmInstancesConfig(t *testing.T) {
	for _, tc := range []struct {
		configured, want int
	}{{0, 0}, {-1, 0}, {5, 5}} {
		e := newEngine(t, Config{WarmInstances: tc.configured})
		p := mustCompile(t, e, wat(t, "reactor_counter"), Limits{})
		got := 0
		if p.c.warm != nil {
			got = cap(p.c.warm.ready)
		}
		if got != tc.want {
			t.Errorf("WarmInstances %d: pool of %d, want %d", tc.configured, got, tc.want)
		}
		results(t, invoke(t, p, request(), Invocation{}))
	}
}

// Closing the last handle of a plugin, or the engine, closes its prepared
// instances and ends the goroutine that prepares them.
func TestWarmPoolIsDrainedOnClose(t *testing.T) {
	for _, closeEngine := range []bool{false, true} {
		t.Run(fmt.Sprintf("closeEngine=%v", closeEngine), func(t *testing.T) {
			goroutines := runtime.NumGoroutine()
			e, err := New(context.Background(), Config{CacheDir: testCacheDir, WarmInstances: 3})
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.Compile(context.Background(), guestPlugin(t, true), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			warmUp(t, p, request("mode", "echo"))
			var prepared []*instance
			for range 3 {
				prepared = append(prepared, <-p.c.warm.ready)
			}
			for _, inst := range prepared {
				p.c.warm.ready <- inst
			}
			// Close while an instance is being prepared.
			p.c.warm.take().close()
			p.c.warm.refill()

			if closeEngine {
				err = e.Close(context.Background())
			} else {
				err = p.Close(context.Background())
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, inst := range prepared[1:] {
				if !inst.mod.IsClosed() {
					t.Error("a prepared instance is still open")
				}
			}
			if n := len(p.c.warm.ready); n != 0 {
				t.Errorf("%d prepared instances left in the pool", n)
			}
			if !closeEngine {
				e.Close(context.Background())
			}
			deadline := time.Now().Add(time.Second)
			for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > goroutines {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines after Close, %d before:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// requestLength is the length of req as the engine writes it to stdin.
func requestLength(tb testing.TB, req *hostabi.Request) int {
	tb.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	return len(b) + 1 // json.Encoder ends it with a newline
}

// InvokeRaw hands the plugin stdin as it is, through the sandbox Invoke
// uses (a prepared instance too): the plugin serves a request it is given
// as bytes, and answers malformed input itself.
func TestInvokeRaw(t *testing.T) {
	for _, reactor := range []bool{false, true} {
		t.Run(fmt.Sprintf("reactor=%v", reactor), func(t *testing.T) {
			p := mustCompile(t, sharedEngine(t), guestPlugin(t, reactor), Limits{})
			if reactor {
				warmUp(t, p, request("mode", "echo"))
			}
			raw := func(stdin string) *hostabi.Response {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				resp, err := p.InvokeRaw(ctx, []byte(stdin), Invocation{})
				if err != nil {
					t.Fatal(err)
				}
				return resp
			}
			got := results(t, raw(`{"abiVersion":"`+hostabi.Version+`","run":{"name":"raw"},"attempt":1,"params":[{"name":"mode","value":"echo"}]}`))
			if got["run"] != "raw" || got["params"] != "mode" {
				t.Errorf("results = %v; want the run and params of the raw request", got)
			}
			resp := raw("{not json")
			if resp.Status != hostabi.StatusFailed || resp.Reason != guest.ReasonInvalidRequest || !strings.HasPrefix(resp.Message, "stdin is not a JSON request: ") {
				t.Errorf("malformed stdin: %+v; want the plugin's own InvalidRequest", resp)
			}
		})
	}
}
