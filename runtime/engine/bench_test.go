package engine

import (
	"context"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// BenchmarkCompile measures Engine.Compile of the Go test plugin in a new
// Engine: cold (nothing cached) and cached (from a warm on-disk cache, as
// after a controller restart).
func BenchmarkCompile(b *testing.B) {
	wasm := goPlugin(b)
	compileIn := func(b *testing.B, cfg Config) {
		e, err := New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		p, err := e.Compile(context.Background(), wasm, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		p.Close(context.Background())
		e.Close(context.Background())
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			compileIn(b, Config{})
		}
	})
	b.Run("cached", func(b *testing.B) {
		cfg := Config{CacheDir: b.TempDir()}
		compileIn(b, cfg)
		for b.Loop() {
			compileIn(b, cfg)
		}
	})
}

// BenchmarkInvoke measures one Invoke, a fresh instance included, of the
// Go test plugin and of a WAT module that reads the request and answers.
func BenchmarkInvoke(b *testing.B) {
	for _, bc := range []struct {
		name   string
		plugin func(testing.TB) *Plugin
	}{
		{"go", func(tb testing.TB) *Plugin { return sharedGoPlugin(tb, Limits{}) }},
		{"wat", func(tb testing.TB) *Plugin { return mustCompile(tb, sharedEngine(tb), wat(tb, "ok"), Limits{}) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := bc.plugin(b)
			req := request("mode", "ok")
			b.ReportAllocs()
			for b.Loop() {
				resp, err := p.Invoke(context.Background(), req, Invocation{})
				if err != nil || resp.Status != hostabi.StatusSucceeded {
					b.Fatalf("Invoke = %+v, %v", resp, err)
				}
			}
		})
	}
}
