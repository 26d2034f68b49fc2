package engine

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
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
	if want := manifest.Digest(wasm); p1.Digest() != want {
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
