// Package engine owns the WebAssembly sandbox: it compiles plugin modules
// with wazero's compiler and runs each invocation of a plugin in a fresh,
// single-use instance, bounded by the limits of the host ABI (package
// hostabi) and by the caller's context.
//
// What the engine owns:
//
//   - Compiled code. A module is compiled once per (sha256 digest, memory
//     limit) and shared by every Invoke; with Config.CacheDir the machine
//     code and the prepared module (preparedcache.go) also persist on
//     disk, so a restarted process skips compilation and preparation, and
//     can compile a module by its digest alone (CompileDigest): for a Go
//     plugin, about 1.2 s cold and 0.1 s from the caches; see
//     docs/performance.md. The engine counts the handles on compiled code
//     (CompiledPlugin, Clone) and the invocations running it, and frees it
//     after the last: its users hold handles and count nothing.
//   - wazero runtimes. Memory limits and close-on-context-done are
//     properties of a wazero.Runtime, so the engine keeps one runtime per
//     distinct memory limit, created on first use; all of them share one
//     compilation cache.
//   - Instances: one per invocation, created for it or, for a reactor
//     plugin, prepared ahead of demand (Config.WarmInstances), and closed
//     after it. A reactor's instance gets the state its _initialize left
//     from a snapshot taken once per compiled plugin, when the module
//     allows it (snapshot.go says when, and what instances from one
//     snapshot share). Their linear memories are mappings the engine
//     recycles, zeroed, between instances (see memory.go).
//   - The sandbox of an invocation: the request on stdin, capped stdout and
//     stderr, real clocks, crypto randomness, a sleep that ends with the
//     context, and no filesystem, network, environment or arguments beyond
//     the program name unless the invocation grants a directory (Mount),
//     which package sandboxfs confines and bounds, or a host capability
//     (capabilities.go: the host module hostabi.ImportModule, whose
//     functions a module may import only as Limits.Grants allows, and
//     which serve each call with the Invocation's own clients).
//   - What a module may be and do to the host. Before wazero sees a
//     module, the engine admits it against documented caps on its size,
//     counts and sizes (admit.go: MaxFunctions, MaxCodeBytes,
//     MaxDataSegments, MaxTableEntries, ...), checked before anything is
//     allocated for a claimed count, and rewrites it (prepare.go) so that
//     its tables cannot grow beyond MaxTableEntries and its calls cannot
//     nest deeper than MaxCallDepth. The host memory of one instance is
//     then bounded by the plugin's memory limit, plus MaxTables ×
//     MaxTableEntries table entries of 8 bytes, plus its call stack
//     (a few hundred bytes per unit of MaxCallDepth; wazero's own ceiling
//     of about 100 MB bounds frames the weighting underestimates), plus
//     its capped stdout and log.
//   - The classification of every outcome: a plugin's own Response, or a
//     Failed Response with a host reason from hostabi saying how the plugin
//     misbehaved.
//
// It does not decide when or how often to call a plugin (runtime/lifecycle
// does), nor where modules come from (runtime/manifest, which it does not
// import: the two share how a module is named and bounded through
// runtime/wasmmodule, and a manifest without a memory limit gets the
// engine's DefaultMemory).
package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// Config configures an Engine.
type Config struct {
	// CacheDir holds wazero's on-disk compilation cache and the engine's
	// prepared modules (preparedcache.go); "" keeps compiled code in
	// memory only. The directory is created if missing. Entries
	// are specific to the wazero version, so upgrading wazero recompiles.
	// Nothing but the engine may write to it: its contents are executed.
	CacheDir string

	// WarmInstances is how many instances of each reactor plugin (see
	// Compile) the engine keeps prepared ahead of demand, so that an
	// invocation skips instantiation and readying the instance: 0 (the
	// default) or a negative number, none. Each prepared instance serves
	// one invocation and is then closed, exactly like an instance made on
	// demand; see CompiledPlugin.Invoke.
	//
	// Since a reactor's instances come from a snapshot of its
	// initialization (snapshot.go), an instance made on demand costs a Go
	// plugin about 1.3 ms of CPU on the call's path, and a prepared one
	// saves the call about 0.8 ms of latency but not that CPU: it is
	// spent in the background, and a burst of calls drains the pool, so
	// it does not raise throughput (docs/performance.md). A prepared
	// instance also holds its memory while it waits (for a Go plugin,
	// 3.4 MiB of linear memory, about 4 MiB resident; for a C plugin, a
	// few pages).
	// Preparation starts when a plugin's first invocation ends, so a
	// plugin that is compiled but never invoked costs nothing.
	// Invocations with Mounts never use prepared instances: the mounts are
	// part of the instance.
	WarmInstances int

	// PrepareSlot, when set, is called before each instance is prepared
	// in the background (WarmInstances), which runs the plugin's
	// _initialize for up to prepareTimeout: it returns once preparation
	// may start, with the function that ends it, or an error (if ctx ends
	// first: the pool is being closed), which stops the pool as a failed
	// preparation does. A controller passes its concurrency limit here, so
	// that background work counts against the limit invocations share.
	// nil: preparation is not limited.
	PrepareSlot func(ctx context.Context) (release func(), err error)
}

// Engine compiles and runs plugins. It is safe for concurrent use.
type Engine struct {
	cache         wazero.CompilationCache
	baseConfig    wazero.ModuleConfig
	warmInstances int
	prepareSlot   func(context.Context) (func(), error)
	memory        *memoryPool
	restoring     chan struct{} // restoreSlot's slots
	// preparedDir holds the prepared-module cache (preparedcache.go); ""
	// without Config.CacheDir.
	preparedDir string

	mu       sync.Mutex
	closed   bool
	runtimes map[uint32]*sandboxRuntime // by memory limit in pages
	plugins  map[pluginKey]*compiled
	codes    map[codeKey]*code
}

// sandboxRuntime is a wazero runtime for one memory limit, with the WASI
// host module instantiated in it.
type sandboxRuntime struct {
	wazero.Runtime
	// wasi are the functions wasi_snapshot_preview1 provides, by name, to
	// check a module's imports against; capabilities those of
	// hostabi.ImportModule (capabilities.go).
	wasi, capabilities map[string]api.FunctionDefinition
}

type pluginKey struct {
	digest string
	pages  uint32
}

// New returns an Engine. It needs wazero's compiler, which runs on amd64
// (with SSE4.1) and arm64.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		return nil, fmt.Errorf("engine: wazero's compiler does not support %s; run on amd64 or arm64", runtime.GOARCH)
	}
	cache := wazero.NewCompilationCache()
	var prepared string
	if cfg.CacheDir != "" {
		prepared = preparedDir(cfg.CacheDir)
		var err error
		if cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("engine: compilation cache directory %s: %w", cfg.CacheDir, err)
		}
	}
	return &Engine{
		cache: cache,
		// Every instance is anonymous (name ""), so any number of them can
		// live in one runtime; _start and _initialize are called by the
		// engine, not at instantiation, so that the instance outlives a
		// trap and its memory can be inspected. Clocks and randomness are
		// real; wazero's defaults are deterministic fakes.
		baseConfig: wazero.NewModuleConfig().
			WithName("").
			WithArgs(programName).
			WithStartFunctions().
			WithSysWalltime().
			WithSysNanotime().
			WithRandSource(cryptoRand),
		warmInstances: max(cfg.WarmInstances, 0),
		prepareSlot:   cfg.PrepareSlot,
		memory:        newMemoryPool(),
		restoring:     make(chan struct{}, runtime.GOMAXPROCS(0)),
		preparedDir:   prepared,
		runtimes:      map[uint32]*sandboxRuntime{},
		plugins:       map[pluginKey]*compiled{},
		codes:         map[codeKey]*code{},
	}, nil
}

// programName is the plugin's argv[0], its only argument.
const programName = "plugin"

// Close releases every runtime, compiled module, prepared instance and
// the in-memory compilation cache (the on-disk cache stays), and waits for
// the instances being prepared in the background. Invocations still
// running are ended and fail; call Close once they have returned. Compile
// and Invoke fail after Close.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	var pools []*warmPool
	for _, cd := range e.codes {
		pools = append(pools, cd.warm)
	}
	runtimes := e.runtimes
	e.runtimes, e.plugins, e.codes = nil, nil, nil
	e.mu.Unlock()

	for _, w := range pools {
		w.close()
	}
	var errs []error
	for _, r := range runtimes {
		errs = append(errs, r.Close(ctx))
	}
	e.memory.close()
	errs = append(errs, e.cache.Close(ctx))
	return errors.Join(errs...)
}

var errClosed = errors.New("engine: the engine is closed")

// runtimeFor returns the runtime for a memory limit, creating it on first
// use. e.mu must be held.
func (e *Engine) runtimeFor(ctx context.Context, pages uint32) (*sandboxRuntime, error) {
	if r, ok := e.runtimes[pages]; ok {
		return r, nil
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(e.cache).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(pages))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("engine: instantiate WASI: %w", err)
	}
	caps, err := instantiateCapabilities(ctx, r)
	if err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("engine: instantiate the host capabilities: %w", err)
	}
	sr := &sandboxRuntime{
		Runtime:      r,
		wasi:         r.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions(),
		capabilities: caps,
	}
	e.runtimes[pages] = sr
	return sr, nil
}

// Limits bound every instance of a compiled plugin.
type Limits struct {
	// MemoryBytes caps the linear memory of one instance; 0 means
	// DefaultMemory. It is rounded down to whole 64 KiB wasm pages
	// (wasmmodule.PageSize) and may be at most wasmmodule.MaxMemory
	// (4 GiB). Memory is allocated as the plugin grows it, not up front.
	MemoryBytes uint64
	// Grants are the host capabilities the module may import functions
	// of (capabilities.go); checked by every Compile, so one module
	// compiled under other grants shares the compiled code but not them.
	Grants Grants
}

// DefaultMemory is the memory limit of an instance when Limits leave it
// unset, as a plugin manifest without limits.memory does: 64 MiB, room
// for a Go plugin's runtime and heap. A prepared or running instance
// holds host memory up to its limit as the plugin grows into it.
const DefaultMemory = 64 << 20

// pageSize is the unit of a wasm memory.
const pageSize = wasmmodule.PageSize

func (l Limits) pages() (uint32, error) {
	b := l.MemoryBytes
	if b == 0 {
		b = DefaultMemory
	}
	switch {
	case b < pageSize:
		return 0, fmt.Errorf("memory limit %d bytes is below one 64 KiB wasm page", b)
	case b > wasmmodule.MaxMemory:
		return 0, fmt.Errorf("memory limit %s is above the 4 GiB a wasm32 module can address", formatBytes(b))
	}
	return uint32(b / pageSize), nil
}

// Compile validates and compiles a module once per (sha256 digest, limits)
// and returns a handle to the shared compiled plugin, safe for concurrent
// Invoke. Callers compiling the same module concurrently wait for one
// compilation. Each handle must be closed; the compiled code is released
// when the last handle is closed and no invocation uses it.
//
// Compiling a 4 MB Go plugin takes about 1.2 s; loading it from the
// on-disk cache about 0.13 s, in which wazero decodes and validates the
// module again and maps its 15 MiB of machine code (in a fresh process,
// where the heap grows too, up to 0.27 s on machines whose page faults
// are slow: docs/performance.md); with CacheDir, the prepared module is
// read from the cache too (see below). The same module under another
// memory limit reuses the machine code in memory and costs about as much
// as a cache hit. Modules that differ only in custom sections (one with
// its manifest embedded, one without) prepare to the same module and
// share one compiled module: the second costs its preparation only.
// Before compiling, the engine admits the module against its
// caps and rewrites it (prepareModule): tables bounded, call depth
// counted, and data segments merged, which makes every instance of a Go
// plugin cheaper to create; the digest is still that of wasm.
//
// A plugin is either a WASI command, which exports _start, or a reactor,
// which exports tekton_run and usually _initialize (hostabi/README.md).
// A reactor is initialized once and its instances made from a snapshot
// (snapshot.go); it can also be prepared ahead of demand: see
// Config.WarmInstances.
// A Go plugin built with -buildmode=c-shared is a reactor; built without,
// a command.
//
// Compilation itself does not stop when ctx ends: wazero does not look
// at it while compiling. The admission caps bound it instead: a module at
// the caps compiles in seconds (BenchmarkCompileAtCaps), and the registry
// compiles on a fixed number of workers. Callers waiting for another's
// compilation of the same module return when their ctx ends. A panic
// while preparing or compiling a module is returned as an error.
//
// Errors are meant for the plugin's author: over one of the admission
// caps (the error names the cap and the module's figure), not wasm,
// fails to compile, imports something the host does not provide (ABI v1
// provides the functions of wasi_snapshot_preview1 and of
// hostabi.ImportModule), imports a host function of a capability
// limits.Grants does not grant, a memory minimum above the limit, or
// neither a command nor a reactor.
func (e *Engine) Compile(ctx context.Context, wasm []byte, limits Limits) (*CompiledPlugin, error) {
	if !wasmmodule.IsWasm(wasm) {
		return nil, fmt.Errorf("the plugin is %w", wasmmodule.ErrNotWasm)
	}
	pages, err := limits.pages()
	if err != nil {
		return nil, err
	}
	return e.compileKey(ctx, pluginKey{digest: wasmmodule.Digest(wasm), pages: pages}, limits, wasm, nil)
}

// compileKey is Compile and CompileDigest: the module of key, compiled
// from wasm or, when wasm is nil, from prepared, the module prepareModule
// made of it (read from the prepared-module cache).
func (e *Engine) compileKey(ctx context.Context, key pluginKey, limits Limits, wasm []byte, prepared *preparedModule) (*CompiledPlugin, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errClosed
	}
	c, found := e.plugins[key]
	if !found {
		rt, err := e.runtimeFor(ctx, key.pages)
		if err != nil {
			e.mu.Unlock()
			return nil, err
		}
		c = &compiled{key: key, rt: rt, engine: e, ready: make(chan struct{})}
		e.plugins[key] = c
	}
	c.refs++
	e.mu.Unlock()

	if !found {
		cd, err := e.compile(ctx, c, wasm, prepared)
		e.mu.Lock()
		c.code, c.err = cd, err
		e.mu.Unlock()
		close(c.ready)
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		e.release(c)
		return nil, ctx.Err()
	}
	if c.err != nil {
		e.release(c)
		return nil, c.err
	}
	if err := checkGrants(c.module, limits.Grants); err != nil {
		e.release(c)
		return nil, err
	}
	return &CompiledPlugin{engine: e, c: c}, nil
}

// release drops one reference to c, and its use of the code with the
// last.
func (e *Engine) release(c *compiled) {
	e.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last && e.plugins[c.key] == c {
		delete(e.plugins, c.key)
	}
	e.mu.Unlock()
	if last && c.code != nil {
		e.dropCode(c.code)
	}
}

// dropCode drops one use of cd, and closes its module with the last.
func (e *Engine) dropCode(cd *code) {
	e.mu.Lock()
	cd.users--
	last := cd.users == 0
	if last && e.codes[cd.key] == cd {
		delete(e.codes, cd.key)
	}
	e.mu.Unlock()
	if last && cd.module != nil {
		cd.warm.close()
		_ = cd.module.Close(context.Background())
	}
}

// compile returns the code of c's module, checked to be a WASI command or
// a reactor whose imports the host provides. It prepares wasm
// (prepareModule), unless the prepared-module cache holds the prepared
// module, which it stores there otherwise; with wasm nil, it compiles
// prepared, from the cache (CompileDigest), and returns ErrNotCached if
// wazero refuses it.
func (e *Engine) compile(ctx context.Context, c *compiled, wasm []byte, prepared *preparedModule) (*code, error) {
	digest := c.key.digest
	if prepared == nil {
		prepared = e.readPrepared(digest)
	}
	if prepared != nil {
		cd, err := e.codeOf(ctx, c, prepared)
		if err == nil || !errors.Is(err, errCompile) {
			return cd, err
		}
		// A prepared module wazero refuses was not written by this
		// version of the host: prepare the module again.
		e.dropPrepared(digest)
		if wasm == nil {
			return nil, ErrNotCached
		}
	}
	prepared, err := prepareChecked(wasm)
	if err != nil {
		return nil, err
	}
	cd, err := e.codeOf(ctx, c, prepared)
	if err == nil {
		e.writePrepared(digest, prepared)
	}
	return cd, err
}

// codeSum is the sha256 of encodePrepared(pm), without the copy of the
// module that would make.
func codeSum(pm *preparedModule) [sha256.Size]byte {
	h := sha256.New()
	h.Write(encodePrepared(&preparedModule{noSnapshot: pm.noSnapshot, globals: pm.globals, data: pm.data}))
	h.Write(pm.wasm)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// codeOf returns the code of pm under c's memory limit, with a use of it
// counted: the code another module prepared to the same already has, or
// pm compiled. Like compilation, waiting for another's does not stop
// when ctx ends.
func (e *Engine) codeOf(ctx context.Context, c *compiled, pm *preparedModule) (*code, error) {
	key := codeKey{sum: codeSum(pm), pages: c.key.pages}
	e.mu.Lock()
	cd, found := e.codes[key]
	if !found {
		cd = &code{key: key, ready: make(chan struct{})}
		e.codes[key] = cd
	}
	cd.users++
	e.mu.Unlock()

	if !found {
		module, kind, err := compilePrepared(ctx, c.rt, pm.wasm)
		e.mu.Lock()
		cd.module, cd.kind, cd.err = module, kind, err
		if err == nil {
			cd.data = pm.data
			if kind == kindReactor {
				cd.snaps = newSnapshotter(pm, module)
				if e.warmInstances > 0 {
					cd.warm = newWarmPool(c, e.warmInstances)
				}
			}
		}
		e.mu.Unlock()
		close(cd.ready)
	}
	<-cd.ready
	if cd.err != nil {
		e.dropCode(cd)
		return nil, cd.err
	}
	return cd, nil
}

// errCompile marks the errors of wazero's compilation.
var errCompile = errors.New("the plugin module does not compile")

// prepareChecked is prepare with its errors worded for the plugin's
// author. A panic while preparing (a bug in the host that a module can
// reach) is an error, not a crash.
func prepareChecked(wasm []byte) (prepared *preparedModule, err error) {
	defer func() {
		if p := recover(); p != nil {
			prepared, err = nil, panicError(p)
		}
	}()
	prepared, err = prepare(wasm)
	if refused := (*refusal)(nil); errors.As(err, &refused) {
		return nil, fmt.Errorf("the plugin module is refused: %v", err)
	} else if err != nil {
		return nil, fmt.Errorf("%w: %v", errCompile, err)
	}
	return prepared, nil
}

func panicError(p any) error {
	return fmt.Errorf("the host failed while loading the plugin module (%v); this is a bug in tekton-wasm or wazero: please report it with the module", p)
}

// compilePrepared compiles a prepared module in rt and checks it
// (checkModule). A panic while compiling is an error, not a crash.
func compilePrepared(ctx context.Context, rt *sandboxRuntime, prepared []byte) (m wazero.CompiledModule, k moduleKind, err error) {
	defer func() {
		if p := recover(); p != nil {
			if m != nil {
				_ = m.Close(ctx)
			}
			m, k, err = nil, 0, panicError(p)
		}
	}()
	m, err = rt.CompileModule(ctx, prepared)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "over limit") {
			msg += "; raise the plugin's memory limit (limits.memory in its manifest)"
		}
		return nil, 0, fmt.Errorf("%w: %s", errCompile, msg)
	}
	if k, err = checkModule(m, rt.wasi, rt.capabilities); err != nil {
		_ = m.Close(ctx)
		return nil, 0, err
	}
	return m, k, nil
}

// prepare is prepareModule; tests replace it to check that a panic in
// loading is contained.
var prepare = prepareModule

// moduleKind is how the engine runs a plugin: a WASI command or a
// reactor (hostabi/README.md), told apart by its exports.
type moduleKind int

const (
	// kindCommand: a WASI command. An invocation calls _start, which
	// initializes the module and serves the request.
	kindCommand moduleKind = iota + 1
	// kindReactor: a WASI reactor exporting runExport. An instance is
	// initialized by calling _initialize, if exported, and an invocation
	// calls runExport; see hostabi/README.md.
	kindReactor
)

// Export names of the two kinds of plugins.
const (
	startExport      = "_start"
	initializeExport = "_initialize"
	runExport        = hostabi.RunExport
)

// export is the function a call runs.
func (k moduleKind) export() string {
	if k == kindReactor {
		return runExport
	}
	return startExport
}

func checkModule(m wazero.CompiledModule, wasi, capabilities map[string]api.FunctionDefinition) (moduleKind, error) {
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case wasi_snapshot_preview1.ModuleName:
			host, ok := wasi[name]
			if !ok {
				return 0, fmt.Errorf("the plugin imports %s.%s, which WASI preview1 does not define", mod, name)
			}
			if !sameSignature(f, host) {
				return 0, fmt.Errorf("the plugin imports %s.%s as %s, but its signature is %s", mod, name, signature(f), signature(host))
			}
		case hostabi.ImportModule:
			if err := checkCapabilityImport(f, capabilities); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("the plugin imports %s.%s; the host provides only %s and %s (ABI %s)", mod, name, wasi_snapshot_preview1.ModuleName, hostabi.ImportModule, hostabi.Version)
		}
	}
	for _, mem := range m.ImportedMemories() {
		mod, name, _ := mem.Import()
		return 0, fmt.Errorf("the plugin imports memory %s.%s; the host provides none: a plugin defines its own memory", mod, name)
	}
	exports := m.ExportedFunctions()
	kind := kindCommand
	if _, ok := exports[startExport]; !ok {
		if _, ok := exports[runExport]; !ok {
			return 0, fmt.Errorf("the plugin exports neither %s (a WASI command) nor %s (a reactor): "+
				"build it as a command, or export %s from a reactor (for Go, guest.Run in main, with or without -buildmode=c-shared)",
				startExport, runExport, runExport)
		}
		kind = kindReactor
	}
	names := []string{startExport}
	if kind == kindReactor {
		names = []string{runExport, initializeExport}
	}
	for _, name := range names {
		f, ok := exports[name]
		if ok && (len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0) {
			return 0, fmt.Errorf("the plugin's %s is %s; it must take and return nothing", name, signature(f))
		}
	}
	return kind, nil
}

func sameSignature(a, b api.FunctionDefinition) bool {
	return string(a.ParamTypes()) == string(b.ParamTypes()) && string(a.ResultTypes()) == string(b.ResultTypes())
}

// signature renders a function type as (i32, i32) -> i32.
func signature(f api.FunctionDefinition) string {
	types := func(ts []api.ValueType) string {
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = api.ValueTypeName(t)
		}
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("(%s) -> (%s)", types(f.ParamTypes()), types(f.ResultTypes()))
}

// formatBytes renders a size as MiB, KiB or bytes, whichever is exact.
func formatBytes(b uint64) string {
	switch {
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d bytes", b)
}
