//go:build linux

package engine

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// The benchmarks run the first-party plugins, built as the Makefile builds
// them: plugins/wait (Go, with the guest SDK) as a command and as a
// reactor, plugins/semver (C, a command), plugins/wait-rust (Rust, with
// the Rust SDK, a reactor), plugins/wait-as (AssemblyScript, with its
// SDK, a reactor), plus the C reactor test plugin and the WAT
// module testdata/ok.wat. docs/performance.md quotes them.
// They read the process's CPU time and resident set the Linux way.

// benchPlugin is a plugin and a request it succeeds on.
type benchPlugin struct {
	name string
	wasm func(testing.TB) []byte
	req  *hostabi.Request
}

func benchPlugins() []benchPlugin {
	wait := filepath.Join("..", "..", "plugins", "wait")
	waitReq := request("duration", "0s")
	semverReq := request("version", "1.4.2-rc.1+build.7", "constraint", ">=1.4.2-rc.1 <2.0.0 || ^3", "require", "true")
	return []benchPlugin{
		{"go-command", func(tb testing.TB) []byte { return wasmtest.GoCommand(tb, wait) }, waitReq},
		{"go-reactor", func(tb testing.TB) []byte { return wasmtest.GoPlugin(tb, wait) }, waitReq},
		{"c-command", func(tb testing.TB) []byte {
			return wasmtest.CPlugin(tb, filepath.Join("..", "..", "plugins", "semver"))
		}, semverReq},
		{"c-reactor", cReactor, request()},
		{"rust-reactor", func(tb testing.TB) []byte {
			return wasmtest.RustPlugin(tb, filepath.Join("..", "..", "plugins", "wait-rust"))
		}, waitReq},
		{"as-reactor", func(tb testing.TB) []byte {
			return wasmtest.AssemblyScriptPlugin(tb, filepath.Join("..", "..", "plugins", "wait-as"))
		}, waitReq},
		{"wat-command", func(tb testing.TB) []byte { return wat(tb, "ok") }, request()},
	}
}

func findBenchPlugin(name string) benchPlugin {
	for _, p := range benchPlugins() {
		if p.name == name {
			return p
		}
	}
	panic("no bench plugin " + name)
}

// BenchmarkCompile measures New and Compile in a fresh Engine: cold
// (nothing cached), cached (from a warm on-disk cache) and digest (by
// digest alone, from the warm caches, as after a controller restart: the
// time until the plugin is ready).
func BenchmarkCompile(b *testing.B) {
	for _, name := range []string{"go-reactor", "c-command"} {
		bp := findBenchPlugin(name)
		wasm := bp.wasm(b)
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
		b.Run(name+"/cold", func(b *testing.B) {
			for b.Loop() {
				compileIn(b, Config{})
			}
		})
		b.Run(name+"/cached", func(b *testing.B) {
			cfg := Config{CacheDir: b.TempDir()}
			compileIn(b, cfg)
			for b.Loop() {
				compileIn(b, cfg)
			}
		})
		// By digest from the prepared-module cache, as a restarted
		// controller loads a plugin it loaded before.
		b.Run(name+"/digest", func(b *testing.B) {
			cfg := Config{CacheDir: b.TempDir()}
			compileIn(b, cfg)
			digest := wasmmodule.Digest(wasm)
			for b.Loop() {
				e, err := New(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				p, err := e.CompileDigest(context.Background(), digest, Limits{})
				if err != nil {
					b.Fatal(err)
				}
				p.Close(context.Background())
				e.Close(context.Background())
			}
		})
	}
}

// BenchmarkInvoke measures one Invoke as a controller makes it between
// runs: one call at a time, with the engine otherwise idle. For a
// reactor, each call finds a pool of two prepared instances refilled (the
// timer stops while the pool refills); "unprepared" is a reactor without
// a pool, as the engine runs it by default. It reports
// the latency's p50 and p99 (latency-p50-ms, latency-p99-ms) and the
// host CPU per call including the background preparation of the instance
// that replaces the one taken (cpu-ms/op).
func BenchmarkInvoke(b *testing.B) {
	type variant struct {
		name string
		warm int
	}
	for _, bp := range benchPlugins() {
		variants := []variant{{bp.name, -1}}
		if strings.HasSuffix(bp.name, "-reactor") {
			variants = []variant{{bp.name, 2}, {bp.name + "-unprepared", -1}}
		}
		for _, v := range variants {
			b.Run(v.name, func(b *testing.B) {
				e := newEngine(b, Config{WarmInstances: v.warm})
				p := mustCompile(b, e, bp.wasm(b), Limits{})
				waitRefilled := func() {
					if p.c.warm != nil {
						waitWarm(b, p, cap(p.c.warm.ready))
					}
				}
				invokeOK(b, p, bp.req)
				waitRefilled()
				latencies := make([]time.Duration, 0, 1024)
				cpu := cpuTime()
				b.ReportAllocs()
				for b.Loop() {
					start := time.Now()
					invokeOK(b, p, bp.req)
					latencies = append(latencies, time.Since(start))
					b.StopTimer()
					waitRefilled()
					b.StartTimer()
				}
				reportCPU(b, cpu)
				reportLatency(b, latencies)
			})
		}
	}
}

// BenchmarkThroughput measures invocations back to back from as many
// goroutines as there are CPUs: the pool is mostly empty and most calls
// make their own instance, so ns/op is the host CPU an invocation needs
// at saturation, divided by the CPUs. The "64-callers" variant has 64
// goroutines call at once, as a controller's burst does with
// -concurrency 64; cpu-ms/op is the host CPU per call, which must not
// grow with the callers (restoreSlot).
func BenchmarkThroughput(b *testing.B) {
	for _, v := range []struct {
		name, plugin string
		warm         int
		callers      int // 0: one per CPU
	}{
		{"go-command", "go-command", -1, 0},
		{"go-reactor", "go-reactor", 2, 0}, // the pool the engine kept by default before snapshots
		{"go-reactor-unprepared", "go-reactor", -1, 0},
		{"go-reactor-unprepared-64-callers", "go-reactor", -1, 64},
	} {
		bp := findBenchPlugin(v.plugin)
		b.Run(v.name, func(b *testing.B) {
			p := mustCompile(b, newEngine(b, Config{WarmInstances: v.warm}), bp.wasm(b), Limits{})
			invokeOK(b, p, bp.req)
			if v.callers > 0 {
				b.SetParallelism(max(1, v.callers/runtime.GOMAXPROCS(0)))
			}
			b.ReportAllocs()
			cpu := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					invokeOK(b, p, bp.req)
				}
			})
			reportCPU(b, cpu)
		})
	}
}

func invokeOK(b *testing.B, p *CompiledPlugin, req *hostabi.Request) {
	resp, err := p.Invoke(context.Background(), req, Invocation{})
	if err != nil || resp.Status != hostabi.StatusSucceeded {
		b.Fatalf("Invoke = %+v, %v", resp, err)
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(cpuTime()-since)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

func reportLatency(b *testing.B, latencies []time.Duration) {
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "latency-p50-ms")
	b.ReportMetric(pct(0.99), "latency-p99-ms")
}

// BenchmarkInstanceMemory measures the memory an idle prepared instance
// of the Go reactor holds, over a pool of 16: its linear memory
// (linear-MiB) and the growth of the process's resident set (rss-MiB),
// which adds wazero's own per-instance structures.
func BenchmarkInstanceMemory(b *testing.B) {
	const n = 16
	bp := findBenchPlugin("go-reactor")
	wasm := bp.wasm(b)
	var linear, rss float64
	for b.Loop() {
		e, err := New(context.Background(), Config{CacheDir: testCacheDir, WarmInstances: n})
		if err != nil {
			b.Fatal(err)
		}
		p, err := e.Compile(context.Background(), wasm, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		before := residentBytes(b)
		p.c.warm.refill()
		waitWarm(b, p, n)
		runtime.GC()
		rss += float64(residentBytes(b)-before) / n
		var total uint32
		for range n {
			inst := <-p.c.warm.ready
			total += inst.mod.Memory().Size()
			inst.close()
		}
		linear += float64(total) / n
		p.Close(context.Background())
		e.Close(context.Background())
	}
	b.ReportMetric(linear/float64(b.N)/(1<<20), "linear-MiB")
	b.ReportMetric(rss/float64(b.N)/(1<<20), "rss-MiB")
}

// residentBytes is the process's resident set size.
func residentBytes(b *testing.B) int64 {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(statm))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// BenchmarkInvokeMount measures what a workspace costs an invocation: the
// Go reactor (unprepared: an invocation with mounts never takes a prepared
// instance) without and with one writable mount it does not touch, and
// the Go test command reading a file from a read-only mount, writing one
// in a writable mount and listing "/" (fs), without and with the mounts.
func BenchmarkInvokeMount(b *testing.B) {
	ro, rw := b.TempDir(), b.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "in"), []byte("hello"), 0o644); err != nil {
		b.Fatal(err)
	}
	mounts := []Mount{{HostDir: ro, GuestPath: "/ro", ReadOnly: true}, {HostDir: rw, GuestPath: "/rw"}}
	for _, v := range []struct {
		name   string
		wasm   func(testing.TB) []byte
		req    *hostabi.Request
		mounts []Mount
	}{
		{"go-reactor/none", findBenchPlugin("go-reactor").wasm, findBenchPlugin("go-reactor").req, nil},
		{"go-reactor/mount", findBenchPlugin("go-reactor").wasm, findBenchPlugin("go-reactor").req, mounts[1:]},
		{"go-command-fs/none", goPlugin, request("mode", "fs", "read", "/ro/in", "write", "/rw/out"), nil},
		{"go-command-fs/mounts", goPlugin, request("mode", "fs", "read", "/ro/in", "write", "/rw/out"), mounts},
	} {
		b.Run(v.name, func(b *testing.B) {
			p := mustCompile(b, newEngine(b, Config{WarmInstances: -1}), v.wasm(b), Limits{})
			invoke := func() {
				resp, err := p.Invoke(context.Background(), v.req, Invocation{Mounts: v.mounts})
				if err != nil || resp.Status != hostabi.StatusSucceeded {
					b.Fatalf("Invoke = %+v, %v", resp, err)
				}
			}
			invoke()
			latencies := make([]time.Duration, 0, 1024)
			cpu := cpuTime()
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				invoke()
				latencies = append(latencies, time.Since(start))
			}
			reportCPU(b, cpu)
			reportLatency(b, latencies)
		})
	}
}
