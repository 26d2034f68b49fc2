package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

func TestWellBehavedModuleSucceeds(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "ok"), Limits{})
	got := results(t, invoke(t, p, request(), Invocation{}))
	if len(got) != 1 || got["answer"] != "42" {
		t.Fatalf("results = %v, want answer=42", got)
	}
}

func TestInfiniteLoopEndsAtDeadline(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), demoWAT(t, "loop"), Limits{})
	const timeout = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	resp, err := p.Invoke(ctx, request(), Invocation{})
	wantCtxErr(t, err, context.DeadlineExceeded, deadline, time.Now(), stopSlack)
	if resp != nil {
		t.Errorf("got a response %+v with the error", resp)
	}
}

func TestSleepForeverEndsOnCancel(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "sleep"), Limits{})
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan time.Time, 1)
	time.AfterFunc(200*time.Millisecond, func() {
		cancelled <- time.Now()
		cancel()
	})
	_, err := p.Invoke(ctx, request(), Invocation{})
	wantCtxErr(t, err, context.Canceled, <-cancelled, time.Now(), stopSlack)
}

func TestMemoryBombRunsOutOfMemory(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), demoWAT(t, "membomb"), Limits{MemoryBytes: 4 << 20})
	resp := invoke(t, p, request(), Invocation{})
	wantFailed(t, resp, hostabi.ReasonOutOfMemory,
		"the plugin ran out of memory (limit 4 MiB) and trapped: wasm error: unreachable (its log is empty)\nwasm stack trace:\n")
}

// A Rust plugin whose allocation fails traps well below its memory limit;
// its log tells.
func TestRustAllocationFailureRunsOutOfMemory(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), rustPlugin(t, "rustoom"), Limits{MemoryBytes: 16 << 20})
	resp := invoke(t, p, request(), Invocation{})
	wantFailed(t, resp, hostabi.ReasonOutOfMemory,
		"the plugin ran out of memory (limit 16 MiB) and trapped: wasm error: unreachable; log:\nmemory allocation of 67108864 bytes failed\nwasm stack trace:")
}

func TestTrap(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "trap"), Limits{})
	resp := invoke(t, p, request(), Invocation{})
	wantFailed(t, resp, hostabi.ReasonTrapped, "the plugin trapped: wasm error: unreachable; log:\nabout to trap\nwasm stack trace:\n")
}

func TestStdoutFlood(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), demoWAT(t, "stdout_flood"), Limits{})
	start := time.Now()
	resp := invoke(t, p, request(), Invocation{})
	wantFailed(t, resp, hostabi.ReasonOutputTooLarge, "the plugin wrote more than 1 MiB to stdout (its log is empty)")
	if d := time.Since(start); d > time.Second {
		t.Errorf("flooding stdout took %v to stop", d)
	}
}

func TestStderrFlood(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "stderr_flood"), Limits{})
	var log countingWriter
	start := time.Now()
	resp := invoke(t, p, request(), Invocation{Log: &log})
	wantFailed(t, resp, hostabi.ReasonLogTooLarge, "the plugin wrote more than 4 MiB to stderr; log:\n…xxx", "xxxspam")
	if d := time.Since(start); d > time.Second {
		t.Errorf("flooding stderr took %v to stop", d)
	}
	if log.n > hostabi.MaxLogBytes || log.n < hostabi.MaxLogBytes-(64<<10) {
		t.Errorf("Invocation.Log received %d bytes; want the last accepted ones, just under %d", log.n, hostabi.MaxLogBytes)
	}
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func TestGarbageOnStdout(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), demoWAT(t, "garbage"), Limits{})
	resp := invoke(t, p, request(), Invocation{})
	wantFailed(t, resp, hostabi.ReasonInvalidResponse,
		"the plugin wrote an invalid response: stdout is not a JSON response", `(starts with "this is not json")`)
}

func TestOversizedResult(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "bigresult"), Limits{})
	resp := invoke(t, p, request(), Invocation{})
	wantFailed(t, resp, hostabi.ReasonResultsTooLarge,
		`the plugin's response breaks a limit: result "big" is 17408 bytes; the limit is 16384`)
}

func TestNonZeroExit(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "exit"), Limits{})
	var log bytes.Buffer
	resp := invoke(t, p, request(), Invocation{Log: &log})
	wantFailed(t, resp, hostabi.ReasonExited, "the plugin exited with code 3; log:\nthe disk is on fire")
	if log.String() != "the disk is on fire\n" {
		t.Errorf("Invocation.Log got %q", log.String())
	}
}

func TestStartFunctionTrapFailsToLoad(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "start_trap"), Limits{})
	resp := invoke(t, p, request(), Invocation{})
	wantFailed(t, resp, hostabi.ReasonLoadFailed, "the plugin could not be instantiated: ", "wasm error: unreachable")
}

func TestCompileRefuses(t *testing.T) {
	e := sharedEngine(t)
	for _, tc := range []struct {
		name   string
		wasm   []byte
		limits Limits
		want   []string
	}{
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), Limits{}, []string{"not a WebAssembly module (no \\0asm header)"}},
		{"empty", nil, Limits{}, []string{"not a WebAssembly module"}},
		{"truncated", []byte("\x00asm\x01\x00\x00\x00\x01\xff"), Limits{}, []string{"the plugin module does not compile: "}},
		{"tekton import", wat(t, "import_tekton"), Limits{}, []string{"the plugin imports tekton.http_get, a host capability ABI tekton-wasm/v1 does not provide"}},
		{"env import", wat(t, "import_env"), Limits{}, []string{"the plugin imports env.now; the host provides only wasi_snapshot_preview1"}},
		{"wrong WASI signature", wat(t, "import_badsig"), Limits{}, []string{
			"the plugin imports wasi_snapshot_preview1.fd_write as (i32) -> (), but its signature is (i32, i32, i32, i32) -> (i32)"}},
		{"neither command nor reactor", wat(t, "reactor"), Limits{}, []string{"the plugin exports neither _start (a WASI command) nor tekton_run (a reactor)"}},
		{"reactor with a bad tekton_run", wat(t, "reactor_badsig"), Limits{}, []string{"the plugin's tekton_run is (i32) -> (); it must take and return nothing"}},
		{"memory over limit", wat(t, "bigmem"), Limits{}, []string{"over limit", "raise the plugin's memory limit"}},
		{"limit below a page", wat(t, "ok"), Limits{MemoryBytes: 1000}, []string{"memory limit 1000 bytes is below one 64 KiB wasm page"}},
		{"limit above 4 GiB", wat(t, "ok"), Limits{MemoryBytes: 8 << 30}, []string{"memory limit 8192 MiB is above the 4 GiB"}},
		{"an export name of the host's", watModule(t, `(module (memory (export "memory") 1) (global (export "tekton-wasm:global:0") (mut i32) (i32.const 0)) (func (export "_start")))`),
			Limits{}, []string{`the plugin module is refused: the module exports "tekton-wasm:global:0"; names starting with "tekton-wasm:" are the host's`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := e.Compile(context.Background(), tc.wasm, tc.limits)
			if err == nil {
				p.Close(context.Background())
				t.Fatal("Compile succeeded")
			}
			for _, part := range tc.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}

// Every invocation gets a fresh instance, also when many run at once.
func TestConcurrentInvocationsAreIsolated(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "counter"), Limits{})
	invokeConcurrently(t, p, request(), 8, 8, "[{global 1} {memory 1}]")
}

// A module that dirties all of its memory leaves nothing for the next
// instance to find, though the engine recycles linear memory.
func TestRecycledMemoryIsZeroed(t *testing.T) {
	e := newEngine(t, Config{})
	p := mustCompile(t, e, wat(t, "scribble"), Limits{})
	for i := range 20 {
		if got := results(t, invoke(t, p, request(), Invocation{})); got["dirty"] != "0" {
			t.Fatalf("call %d found its memory dirty", i+1)
		}
		e.memory.mu.Lock()
		recycled := len(e.memory.free[mappingKind{size: DefaultMemory}])
		e.memory.mu.Unlock()
		if recycled != 1 {
			t.Fatalf("after call %d the engine keeps %d memories for reuse; want 1, or this test proves nothing", i+1, recycled)
		}
	}
}
