package engine

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// cacheEntries lists the files under dir with their modification times.
func cacheEntries(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	entries := map[string]time.Time{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		entries[path] = info.ModTime()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestCompilationCacheOnDisk(t *testing.T) {
	dir := t.TempDir()
	wasm := goPlugin(t)
	compileIn := func() time.Duration {
		e, err := New(context.Background(), Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(context.Background())
		start := time.Now()
		p, err := e.Compile(context.Background(), wasm, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		results(t, invoke(t, p, request("mode", "ok"), Invocation{}))
		p.Close(context.Background())
		return took
	}

	cold := compileIn()
	written := cacheEntries(t, dir)
	if len(written) == 0 {
		t.Fatalf("the first engine wrote nothing to its cache directory %s", dir)
	}
	cached := compileIn()
	if reused := cacheEntries(t, dir); len(reused) != len(written) {
		t.Errorf("the second engine changed the cache from %v to %v; want it reused", written, reused)
	} else {
		for path, mtime := range written {
			if !reused[path].Equal(mtime) {
				t.Errorf("the second engine rewrote %s", path)
			}
		}
	}
	t.Logf("compile: cold %v, from the on-disk cache %v", cold, cached)
	if cached > cold/2 {
		t.Errorf("compiling from the on-disk cache took %v, the cold compile %v; want much less", cached, cold)
	}
}

// Compile shares one compiled module between handles; closing one handle
// leaves the others working.
func TestCompileSharesAndCloseReleases(t *testing.T) {
	e := newEngine(t, Config{})
	wasm := wat(t, "ok")
	p1 := mustCompile(t, e, wasm, Limits{})
	p2 := mustCompile(t, e, wasm, Limits{})
	p3 := mustCompile(t, e, wasm, Limits{MemoryBytes: 1 << 20})
	if p1.c != p2.c || p1.c == p3.c {
		t.Fatal("want handles of the same module and limits to share compiled code, and other limits not")
	}
	if want := wasmmodule.Digest(wasm); p1.Digest() != want {
		t.Errorf("Digest = %q, want %q", p1.Digest(), want)
	}
	if err := p1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p1.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p1.Invoke(context.Background(), request(), Invocation{}); err == nil || !strings.Contains(err.Error(), "is closed") {
		t.Errorf("Invoke on a closed handle: err = %v", err)
	}
	results(t, invoke(t, p2, request(), Invocation{}))

	p2.Close(context.Background())
	e.mu.Lock()
	_, kept := e.plugins[p2.c.key]
	e.mu.Unlock()
	if kept {
		t.Error("the compiled module outlived its last handle")
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Compile(context.Background(), wasm, Limits{}); err != errClosed {
		t.Errorf("Compile after Close: err = %v, want %v", err, errClosed)
	}
	if _, err := p3.Invoke(context.Background(), request(), Invocation{}); err != errClosed {
		t.Errorf("Invoke after Close: err = %v, want %v", err, errClosed)
	}
}

// A Clone keeps the compiled code loaded after the handle it came from
// is closed, and an invocation keeps it loaded after every handle is
// closed; the code is released when the last of them ends. The registry
// relies on this to keep a replaced plugin version for the runs leasing
// it.
func TestCloneAndInvocationsKeepTheCompiledCode(t *testing.T) {
	e := newEngine(t, Config{})
	p := mustCompile(t, e, wat(t, "sleep"), Limits{})
	loaded := func() (loaded bool, refs int) {
		e.mu.Lock()
		defer e.mu.Unlock()
		_, loaded = e.plugins[p.c.key]
		return loaded, p.c.refs
	}
	clone, err := p.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if clone.c != p.c || clone.Digest() != p.Digest() {
		t.Fatal("a clone must share the compiled code of the handle it came from")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := clone.Invoke(ctx, request(), Invocation{})
		done <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, refs := loaded(); refs == 3 { // p, clone, the invocation
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the invocation did not start within 30s")
		}
	}

	p.Close(context.Background())
	if ok, _ := loaded(); !ok {
		t.Fatal("the compiled code was released while a clone was open")
	}
	if _, err := p.Clone(); err == nil || !strings.Contains(err.Error(), "is closed") {
		t.Errorf("Clone of a closed handle: err = %v", err)
	}
	clone.Close(context.Background())
	if ok, _ := loaded(); !ok {
		t.Fatal("the compiled code was released while an invocation ran")
	}
	if _, err := clone.Invoke(context.Background(), request(), Invocation{}); err == nil || !strings.Contains(err.Error(), "is closed") {
		t.Errorf("Invoke on a closed clone: err = %v", err)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("the invocation ended with %v; want context.Canceled", err)
	}
	if ok, refs := loaded(); ok || refs != 0 {
		t.Errorf("after the last invocation: loaded %v, %d references; want the compiled code released", ok, refs)
	}

	other := mustCompile(t, e, wat(t, "ok"), Limits{})
	e.Close(context.Background())
	if _, err := other.Clone(); err != errClosed {
		t.Errorf("Clone after Engine.Close: err = %v, want %v", err, errClosed)
	}
}

func TestInvokeWithUnencodableRequest(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "ok"), Limits{})
	req := request()
	req.Spec = []byte("{not json")
	resp := invoke(t, p, req, Invocation{})
	wantFailed(t, resp, hostabi.ReasonLoadFailed, "the host could not encode the request: json: error calling MarshalJSON for type json.RawMessage")
}

func TestInvokeWithEndedContext(t *testing.T) {
	p := mustCompile(t, sharedEngine(t), wat(t, "ok"), Limits{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if resp, err := p.Invoke(ctx, request(), Invocation{}); err != context.Canceled || resp != nil {
		t.Errorf("Invoke = %v, %v; want nil, context.Canceled", resp, err)
	}
}
