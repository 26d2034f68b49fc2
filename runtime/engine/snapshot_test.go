package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
)

// snapshotReactor is a WAT reactor whose _initialize sets a mutable
// global to 5, a byte of memory to 'a', grows its memory to two pages and
// sets a byte of the second page to 'i', then runs extraInit; extraFields
// are added to the module. Every tekton_run increments the global and
// both bytes, grows the memory by a page and reports the three values and
// what memory.grow returned ('-' for -1): an instance that starts as
// _initialize left it reports [{global 6} {memory b} {page2 j} {grow 2}].
func snapshotReactor(tb testing.TB, extraFields, extraInit string) []byte {
	tb.Helper()
	const response = `{"status":"Succeeded","results":[{"name":"global","value":"?"},{"name":"memory","value":"?"},{"name":"page2","value":"?"},{"name":"grow","value":"?"}]}`
	const at = 1024 // where the response is in memory
	var pos []int
	for i, c := range response {
		if c == '?' {
			pos = append(pos, at+i)
		}
	}
	src := fmt.Sprintf(`(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const %d) %q)
  %s
  (func (export "_initialize")
    (global.set $g (i32.const 5))
    (i32.store8 (i32.const 512) (i32.const 97))
    (drop (memory.grow (i32.const 1)))
    (i32.store8 (i32.const 65536) (i32.const 105))
    %s)
  (func (export "tekton_run")
    (local $grown i32)
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.store8 (i32.const %d) (i32.add (i32.const 48) (global.get $g)))
    (i32.store8 (i32.const 512) (i32.add (i32.load8_u (i32.const 512)) (i32.const 1)))
    (i32.store8 (i32.const %d) (i32.load8_u (i32.const 512)))
    (i32.store8 (i32.const 65536) (i32.add (i32.load8_u (i32.const 65536)) (i32.const 1)))
    (i32.store8 (i32.const %d) (i32.load8_u (i32.const 65536)))
    (local.set $grown (memory.grow (i32.const 1)))
    (i32.store8 (i32.const %d)
      (select (i32.const 45) (i32.add (i32.const 48) (local.get $grown)) (i32.lt_s (local.get $grown) (i32.const 0))))
    (i32.store (i32.const 0) (i32.const %d))
    (i32.store (i32.const 4) (i32.const %d))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
`, at, response, extraFields, extraInit, pos[0], pos[1], pos[2], pos[3], at, len(response))
	path := filepath.Join(tb.TempDir(), "reactor.wat")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	return wasmtest.WAT(tb, path)
}

const pristine = "[{global 6} {memory b} {page2 j} {grow 2}]"

// Two instances from one snapshot cannot observe each other: the first
// call changes the memory (bytes and size) and a global, and the second
// starts again from what _initialize left, which it did not re-run.
func TestSnapshotInstancesAreIsolated(t *testing.T) {
	e := newEngine(t, Config{})
	p := mustCompile(t, e, snapshotReactor(t, "", ""), Limits{})
	for call := 1; call <= 3; call++ {
		if got := fmt.Sprint(invoke(t, p, request(), Invocation{}).Results); got != pristine {
			t.Errorf("call %d: %s; want %s", call, got, pristine)
		}
		if snap, refused := p.c.snaps.state(); snap == nil {
			t.Fatalf("call %d: no snapshot (refused: %q)", call, refused)
		} else if len(snap.memory) != 2*pageSize || len(snap.globals) != 1 || snap.globals[0] != 5 {
			t.Fatalf("call %d: the snapshot has %d bytes of memory and globals %v; want 2 pages and [5]", call, len(snap.memory), snap.globals)
		}
	}
	// Also concurrently, from prepared instances and not.
	p = mustCompile(t, sharedEngine(t), snapshotReactor(t, "", ""), Limits{})
	warmUp(t, p, request())
	invokeConcurrently(t, p, request(), 8, 8, pristine)
}

// A Go reactor's instances come from its snapshot: package
// initialization ran once (every call sees the same time of it, and the
// same math/rand sequence), while crypto/rand and the clock are read at
// the call, and package-level variables a call changes are fresh in the
// next.
func TestSnapshotGoReactor(t *testing.T) {
	p := mustCompile(t, newEngine(t, Config{}), guestPlugin(t, true), Limits{})
	for range 2 {
		if got := fmt.Sprint(invoke(t, p, request("mode", "count"), Invocation{}).Results); got != "[{count 1}]" {
			t.Errorf("count: %s; want [{count 1}]: a fresh package-level counter", got)
		}
	}
	if snap, refused := p.c.snaps.state(); snap == nil {
		t.Fatalf("no snapshot of the Go reactor: %s", refused)
	}
	called := time.Now()
	first := results(t, invoke(t, p, request("mode", "clock"), Invocation{}))
	second := results(t, invoke(t, p, request("mode", "clock"), Invocation{}))
	if first["initialized"] != second["initialized"] {
		t.Errorf("initialized at %s and at %s: want one initialization, the snapshot's", first["initialized"], second["initialized"])
	}
	if first["mathrand"] != second["mathrand"] {
		t.Errorf("math/rand drew %s then %s: want the snapshot's state, the same sequence", first["mathrand"], second["mathrand"])
	}
	if len(first["random"]) != 32 || first["random"] == second["random"] {
		t.Errorf("crypto/rand bytes %q then %q: want 16 fresh bytes per call", first["random"], second["random"])
	}
	now, err := time.Parse(time.RFC3339Nano, second["now"])
	if err != nil {
		t.Fatal(err)
	}
	if d := now.Sub(called); d < 0 || d > 5*time.Second {
		t.Errorf("the plugin's clock read %v, %v after the calls started; want the time of the call", now, d)
	}
}

// A module whose instances a snapshot could not reproduce is initialized
// in every call, and answers as from a snapshot.
func TestSnapshotRefusals(t *testing.T) {
	table := `(table $t 1 funcref) (func $f) (elem $e func $f)`
	for _, tc := range []struct {
		name, fields, init string
		want               string // in the refusal
	}{
		{"start function", `(func $nop) (start $nop)`, "", "start function"},
		{"v128 global", `(global $v (mut v128) (v128.const i64x2 0 0))`, "", "mutable global 1 is a v128"},
		{"funcref global", `(global $r (mut funcref) (ref.null func))`, "", "mutable global 1 is a funcref"},
		{"table.set", table + `(func (table.set $t (i32.const 0) (ref.null func)))`, "", "table.set"},
		{"table.grow", table + `(func (drop (table.grow $t (ref.null func) (i32.const 1))))`, "", "table.grow"},
		{"table.fill", table + `(func (table.fill $t (i32.const 0) (ref.null func) (i32.const 1)))`, "", "table.fill"},
		{"table.copy", table + `(func (table.copy $t $t (i32.const 0) (i32.const 0) (i32.const 1)))`, "", "table.copy"},
		{"table.init", table + `(func (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 1)))`, "", "table.init"},
		{"elem.drop", table + `(func (elem.drop $e))`, "", "elem.drop"},
		{"data.drop", `(data $d "x") (func (data.drop $d))`, "", "data.drop"},
		{"stdin", "", `(i32.store (i32.const 0) (i32.const 2048)) (i32.store (i32.const 4) (i32.const 1))
			(drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))`, "read stdin"},
		{"stderr", "", `(i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 1))
			(drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))`, "wrote to stderr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, newEngine(t, Config{}), snapshotReactor(t, tc.fields, tc.init), Limits{})
			for call := 1; call <= 2; call++ {
				if got := fmt.Sprint(invoke(t, p, request(), Invocation{}).Results); got != pristine {
					t.Errorf("call %d: %s; want %s", call, got, pristine)
				}
			}
			snap, refused := p.c.snaps.state()
			if snap != nil || !strings.Contains(refused, tc.want) {
				t.Errorf("snapshot %v, refused %q; want none, refused for %q", snap != nil, refused, tc.want)
			}
		})
	}
}

// An _initialize that writes to stdout, fails or breaks a limit is not
// snapshotted: each call initializes its instance and fails as it did.
func TestSnapshotRefusedForAFailingInitialize(t *testing.T) {
	for _, tc := range []struct {
		name, init, reason, want string
	}{
		{"stdout", `(i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 1))
			(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))`, hostabi.ReasonInvalidResponse, "wrote to stdout"},
		{"trap", "unreachable", hostabi.ReasonTrapped, "failed"},
		{"log limit", `(i32.store (i32.const 0) (i32.const 0)) (i32.store (i32.const 4) (i32.const 65536))
			(loop $l (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))) (br $l))`, hostabi.ReasonLogTooLarge, "broke an output limit"},
		{"exit", "(call $proc_exit (i32.const 3))", hostabi.ReasonExited, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, newEngine(t, Config{}), snapshotReactor(t, "", tc.init), Limits{})
			for range 2 {
				wantFailed(t, invoke(t, p, request(), Invocation{}), tc.reason)
			}
			if snap, refused := p.c.snaps.state(); snap != nil || !strings.Contains(refused, tc.want) {
				t.Errorf("snapshot %v, refused %q; want none, refused for %q", snap != nil, refused, tc.want)
			}
		})
	}
}

// An instance from a snapshot keeps the plugin's memory limit: a
// snapshot at the limit leaves no room to grow, and one above it (which
// the engine never takes: it snapshots under the same limit) fails the
// call with a clear message instead of running.
func TestSnapshotKeepsTheMemoryLimit(t *testing.T) {
	limits := Limits{MemoryBytes: 3 * pageSize}
	p := mustCompile(t, newEngine(t, Config{}), snapshotReactor(t, "", "(drop (memory.grow (i32.const 1)))"), limits)
	want := "[{global 6} {memory b} {page2 j} {grow -}]"
	for call := 1; call <= 2; call++ {
		if got := fmt.Sprint(invoke(t, p, request(), Invocation{}).Results); got != want {
			t.Errorf("call %d: %s; want %s", call, got, want)
		}
	}
	snap, refused := p.c.snaps.state()
	if snap == nil || len(snap.memory) != 3*pageSize {
		t.Fatalf("want a snapshot of 3 pages; refused %q", refused)
	}
	p.c.snaps.mu.Lock()
	p.c.snaps.snap = &snapshot{memory: make([]byte, 4*pageSize), globals: snap.globals}
	p.c.snaps.mu.Unlock()
	wantFailed(t, invoke(t, p, request(), Invocation{}), hostabi.ReasonLoadFailed,
		"the plugin's memory after _initialize (256 KiB) does not fit its memory limit (192 KiB)")
}

// A snapshot is taken by a call without mounts; calls with mounts
// initialize their instances themselves.
func TestSnapshotIsTakenWithoutMounts(t *testing.T) {
	p := mustCompile(t, newEngine(t, Config{}), snapshotReactor(t, "", ""), Limits{})
	mount := []Mount{{HostDir: t.TempDir(), GuestPath: "/w"}}
	if got := fmt.Sprint(invoke(t, p, request(), Invocation{Mounts: mount}).Results); got != pristine {
		t.Errorf("with a mount: %s; want %s", got, pristine)
	}
	if snap, refused := p.c.snaps.state(); snap != nil || refused != "" {
		t.Fatalf("a call with mounts took a snapshot (%v) or refused one (%q)", snap != nil, refused)
	}
	invoke(t, p, request(), Invocation{})
	if snap, _ := p.c.snaps.state(); snap == nil {
		t.Fatal("no snapshot after a call without mounts")
	}
}

// One taker at a time: the others wait for it (until their context
// ends). An _initialize ended by its call's context (a deadline, a
// cancel) leaves the snapshot to the next call, which may be one that
// waited; one that failed by itself refuses it for good, and releases
// the waiters without a snapshot.
func TestSnapshotTaking(t *testing.T) {
	s := &snapshotter{}
	bg := context.Background()
	if _, take, err := s.get(bg); !take || err != nil {
		t.Fatalf("the first caller: take %v, %v; want to take the snapshot", take, err)
	}
	short, cancelShort := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancelShort()
	if _, take, err := s.get(short); take || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second caller whose context ends while the first takes it: take %v, %v; want the deadline", take, err)
	}
	type got struct {
		snap *snapshot
		take bool
		err  error
	}
	waiter := make(chan got, 1)
	go func() {
		snap, take, err := s.get(bg)
		waiter <- got{snap, take, err}
	}()
	select {
	case g := <-waiter:
		t.Fatalf("a second caller did not wait for the taker: %+v", g)
	case <-time.After(50 * time.Millisecond):
	}

	inst := &instance{s: getSandbox()}
	defer putSandbox(inst.s)
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	s.taken(cancelled, inst, 0, context.Canceled)
	if g := <-waiter; !g.take || g.snap != nil || g.err != nil {
		t.Fatalf("after a cancelled _initialize, the waiting caller got %+v; want to take the snapshot", g)
	}
	if snap, refused := s.state(); snap != nil || refused != "" {
		t.Fatalf("after a cancelled _initialize: snapshot %v, refused %q; want neither", snap != nil, refused)
	}
	go func() {
		snap, take, err := s.get(bg)
		waiter <- got{snap, take, err}
	}()
	time.Sleep(20 * time.Millisecond) // most likely waiting by now; either way it must get no snapshot
	s.taken(bg, inst, 0, fmt.Errorf("trapped"))
	if _, refused := s.state(); !strings.Contains(refused, "failed") {
		t.Fatalf("after a failed _initialize: refused %q", refused)
	}
	if g := <-waiter; g.take || g.snap != nil || g.err != nil {
		t.Fatalf("after a failed _initialize, a waiting caller got %+v; want no snapshot and nothing to take", g)
	}
	if _, take, _ := s.get(bg); take {
		t.Fatal("a caller is asked to take a refused snapshot")
	}
}

// A burst of calls to a reactor just compiled: one takes the snapshot,
// the others wait for it, and each call still gets a pristine instance.
func TestBurstBeforeTheSnapshot(t *testing.T) {
	p := mustCompile(t, newEngine(t, Config{}), snapshotReactor(t, "", ""), Limits{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if got := fmt.Sprint(invoke(t, p, request(), Invocation{}).Results); got != pristine {
				t.Errorf("a call in the burst: %s; want %s", got, pristine)
			}
		})
	}
	wg.Wait()
	if snap, refused := p.c.snaps.state(); snap == nil {
		t.Fatalf("no snapshot after the burst (refused: %q)", refused)
	}
}

// A reactor without _initialize gets no snapshot: there is nothing to
// skip.
func TestSnapshotNeedsAnInitialize(t *testing.T) {
	const response = `{"status":"Succeeded"}`
	wasm := watModule(t, fmt.Sprintf(`(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) %q)
  (func (export "tekton_run")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const %d))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`, response, len(response)))
	p := mustCompile(t, newEngine(t, Config{}), wasm, Limits{})
	for range 2 {
		if resp := invoke(t, p, request(), Invocation{}); resp.Status != hostabi.StatusSucceeded {
			t.Fatalf("got %+v", resp)
		}
	}
	if snap, refused := p.c.snaps.state(); snap != nil || !strings.Contains(refused, "exports no _initialize") {
		t.Errorf("snapshot %v, refused %q; want none, for the missing _initialize", snap != nil, refused)
	}
}
