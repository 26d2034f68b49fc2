package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

func TestGoPluginRoundTripsTheRequest(t *testing.T) {
	p := sharedGoPlugin(t, Limits{})
	req := request("mode", "ok")
	req.Params = append(req.Params,
		hostabi.Param{Name: "list", Value: hostabi.ArrayValue("a", "b")},
		hostabi.Param{Name: "obj", Value: hostabi.ObjectValue(map[string]string{"k": "v"})})
	req.Attempt = 2
	deadline := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	req.Deadline = &deadline
	var log bytes.Buffer

	got := results(t, invoke(t, p, req, Invocation{Log: &log}))
	want := map[string]string{
		"params":   "mode:string,list:array,obj:object",
		"attempt":  "2",
		"run":      "default/run-1",
		"deadline": "2030-01-02T03:04:05.0000006Z",
		"args":     "plugin",
		"env":      "0",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("results = %v\nwant %v", got, want)
	}
	if log.String() != "all good\n" {
		t.Errorf("Invocation.Log got %q", log.String())
	}
}

func TestGoPluginPanicExits(t *testing.T) {
	p := sharedGoPlugin(t, Limits{})
	resp := invoke(t, p, request("mode", "panic"), Invocation{})
	wantFailed(t, resp, hostabi.ReasonExited, "the plugin exited with code 2; log:\npanic: boom\n\ngoroutine 1 [running]:\nmain.main()")
}

func TestGoPluginOutOfMemory(t *testing.T) {
	p := sharedGoPlugin(t, Limits{MemoryBytes: 32 << 20})
	resp := invoke(t, p, request("mode", "oom"), Invocation{})
	wantFailed(t, resp, hostabi.ReasonOutOfMemory, "the plugin ran out of memory (limit 32 MiB); log:\nruntime: out of memory: cannot allocate ")
}

func TestGoPluginSleepEndsAtDeadline(t *testing.T) {
	p := sharedGoPlugin(t, Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_, err := p.Invoke(ctx, request("mode", "sleep"), Invocation{})
	wantCtxErr(t, err, context.DeadlineExceeded, deadline, time.Now(), stopSlack)
}

// The sandbox has the real wall clock, a monotonic clock and sleep that
// take real time, and crypto randomness, not wazero's deterministic fakes.
func TestGoPluginClocksAndRandomnessAreReal(t *testing.T) {
	p := sharedGoPlugin(t, Limits{})
	first := results(t, invoke(t, p, request("mode", "clock"), Invocation{}))
	second := results(t, invoke(t, p, request("mode", "clock"), Invocation{}))

	now, err := time.Parse(time.RFC3339Nano, first["now"])
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(now); d < 0 || d > 10*time.Second {
		t.Errorf("the plugin's wall clock is %v, %v away from the host's", now, d)
	}
	slept, err := time.ParseDuration(first["slept"])
	if err != nil {
		t.Fatal(err)
	}
	if slept < 20*time.Millisecond || slept > 2*time.Second {
		t.Errorf("a 20ms sleep measured %v", slept)
	}
	if len(first["random"]) != 32 || first["random"] == second["random"] {
		t.Errorf("random bytes %q then %q: want 16 fresh bytes per call", first["random"], second["random"])
	}
}

func TestGoPluginConcurrentInvocationsAreIsolated(t *testing.T) {
	p := sharedGoPlugin(t, Limits{})
	invokeConcurrently(t, p, request("mode", "count"), 4, 4, "[{count 1}]")
}

func TestMounts(t *testing.T) {
	p := sharedGoPlugin(t, Limits{})
	ro, rw := t.TempDir(), t.TempDir()
	secret := filepath.Join(ro, "hello.txt")
	if err := os.WriteFile(secret, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("read-only", func(t *testing.T) {
		got := results(t, invoke(t, p, request("mode", "fs", "read", "/ro/hello.txt", "write", "/ro/new.txt"),
			Invocation{Mounts: []Mount{{HostDir: ro, GuestPath: "/ro", ReadOnly: true}}}))
		if got["read"] != "hello" {
			t.Errorf("read = %q, want hello", got["read"])
		}
		if !strings.HasPrefix(got["write"], "error: ") {
			t.Errorf("write = %q, want an error", got["write"])
		}
		if _, err := os.Stat(filepath.Join(ro, "new.txt")); err == nil {
			t.Error("the plugin created a file in a read-only mount")
		}
	})
	t.Run("writable", func(t *testing.T) {
		got := results(t, invoke(t, p, request("mode", "fs", "read", "/rw/../ro/hello.txt", "write", "/rw/new.txt"),
			Invocation{Mounts: []Mount{{HostDir: rw, GuestPath: "/rw"}, {HostDir: ro, GuestPath: "/ro", ReadOnly: true}}}))
		if got["write"] != "written" {
			t.Errorf("write = %q, want written", got["write"])
		}
		if b, err := os.ReadFile(filepath.Join(rw, "new.txt")); err != nil || string(b) != "x" {
			t.Errorf("host file = %q, %v; want x", b, err)
		}
		if got["read"] != "hello" {
			t.Errorf("read = %q, want hello", got["read"])
		}
	})
	t.Run("none", func(t *testing.T) {
		got := results(t, invoke(t, p, request("mode", "fs", "read", secret, "write", filepath.Join(rw, "other.txt")), Invocation{}))
		for _, name := range []string{"read", "write", "root"} {
			if !strings.HasPrefix(got[name], "error: ") {
				t.Errorf("%s = %q, want an error: no mounts, no files", name, got[name])
			}
		}
		if _, err := os.Stat(filepath.Join(rw, "other.txt")); err == nil {
			t.Error("the plugin created a host file without a mount")
		}
	})
	t.Run("missing host directory", func(t *testing.T) {
		missing := filepath.Join(ro, "nope")
		resp := invoke(t, p, request("mode", "ok"), Invocation{Mounts: []Mount{{HostDir: missing, GuestPath: "/x"}}})
		wantFailed(t, resp, hostabi.ReasonLoadFailed,
			fmt.Sprintf("the host could not set up the plugin's sandbox: mount /x: host directory %q is not a directory", missing))
	})
}
