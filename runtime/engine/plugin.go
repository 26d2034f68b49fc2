package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
	experimentalsysfs "github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/sandboxfs"
)

// cryptoRand is the guest's random_get source.
var cryptoRand = rand.Reader

// CompiledPlugin is a plugin module compiled by Engine.Compile, ready to
// be invoked: a handle to compiled code that every handle of the same
// module and limits shares. The engine counts the handles and the running
// invocations of that code; nothing else needs to.
//
// # Notes
//
//   - A CompiledPlugin is safe for concurrent use: any number of
//     goroutines may call Invoke at once, each call in an instance of its
//     own that no other call touches.
//   - Each handle Engine.Compile or Clone returns must be closed once it
//     is no longer needed; closing twice is harmless. The compiled code is
//     released when the last handle of the module is closed and no
//     invocation uses it.
//   - It is safe to call Close while invocations are outstanding: they
//     finish on the compiled code, which is released after the last of
//     them. So a holder that hands a version of a plugin to each caller
//     as a Clone may close its own handle when the version is replaced;
//     the code lives until the last caller closes its clone.
//   - Invoke and Clone fail after Close, and after Engine.Close, which
//     releases every compiled module and ends the invocations still
//     running.
type CompiledPlugin struct {
	engine *Engine
	c      *compiled
	closed bool // under engine.mu
}

// Digest is the hex sha256 of the module.
func (p *CompiledPlugin) Digest() string { return p.c.key.digest }

// Close closes this handle. The compiled code is released once every
// handle of the module is closed and no invocation uses it. Closing twice
// is harmless; Invoke fails after Close.
func (p *CompiledPlugin) Close(context.Context) error {
	p.engine.mu.Lock()
	if p.closed {
		p.engine.mu.Unlock()
		return nil
	}
	p.closed = true
	p.engine.mu.Unlock()
	p.engine.release(p.c)
	return nil
}

// Clone returns another handle on p's compiled code, which stays loaded
// until the clone too is closed, whatever happens to p. It fails when p
// or the engine is closed.
func (p *CompiledPlugin) Clone() (*CompiledPlugin, error) {
	if err := p.acquire(); err != nil {
		return nil, err
	}
	return &CompiledPlugin{engine: p.engine, c: p.c}, nil
}

// acquire takes a reference on the compiled code, for one invocation or
// one handle (Clone); Engine.release drops it.
func (p *CompiledPlugin) acquire() error {
	p.engine.mu.Lock()
	defer p.engine.mu.Unlock()
	switch {
	case p.engine.closed:
		return errClosed
	case p.closed:
		return fmt.Errorf("engine: plugin %s is closed", p.Digest())
	}
	p.c.refs++
	return nil
}

// Invocation carries per-call options.
type Invocation struct {
	// Log receives the plugin's stderr as it is written; may be nil. It is
	// called on the invocation's goroutine and must not block: the
	// plugin's time runs while it does.
	Log io.Writer
	// Mounts are the directories granted to this invocation only.
	Mounts []Mount
	// HTTP serves the plugin's http_request calls (capabilities.go) under
	// its policy; nil: they fail with ENOTCAPABLE. The call counts its
	// requests in a session of its own.
	HTTP *httpcap.Client
	// Kubernetes serves the plugin's kubernetes_request calls under its
	// manifest's rules, as the run's identity: a session for this call
	// only (it counts the call's requests); nil: they fail with
	// ENOTCAPABLE.
	Kubernetes *kubecap.Session
}

// Mount grants the plugin a host directory at GuestPath (an absolute,
// slash-separated path such as /workspace/source), through package
// sandboxfs: no path the plugin gives and no link it finds resolves
// outside HostDir (a link in HostDir that points outside fails); the
// plugin cannot create symbolic or hard links (EPERM); a ReadOnly mount
// refuses every change (EROFS). The mounts of one invocation share one
// sandboxfs.Budget: at most sandboxfs.DefaultMaxOpenFiles files open at
// once and sandboxfs.DefaultMaxWriteBytes added to writable mounts, past
// which the plugin gets EIO and the engine notes the limit in its log.
type Mount struct {
	HostDir, GuestPath string
	ReadOnly           bool
}

// Invoke runs req in a fresh instance of the plugin, used for this call
// only: req is written as JSON to the plugin's stdin, and one
// hostabi.Response is read from its stdout. A command's instance is
// created for the call and runs _start. A reactor's instance is one
// prepared ahead of demand when there is one ready (Config.WarmInstances)
// and the call has no Mounts, else one created for the call; either way
// the call runs its tekton_run, and the instance is closed afterwards.
//
// A reactor's instance without Mounts starts from the snapshot of the
// plugin's initialization, taken by the first such call (snapshot.go):
// its memory and globals are what _initialize left, _initialize is not
// run again, and no other call's changes are visible. So every call
// shares what _initialize computed (for Go: the runtime's hash seeds and
// math/rand state, so map iteration orders and math/rand sequences repeat
// from call to call, and every package-level variable as initialized),
// while what the plugin asks the host for is read at the call: crypto/rand
// (random_get), the wall and monotonic clocks, stdin, stdout and stderr.
// A module whose initialization a snapshot cannot reproduce (snapshot.go
// lists the rules), and every call with Mounts, run _initialize in the
// call's instance. Calls that arrive while the first takes the snapshot
// wait for it, and at most GOMAXPROCS instances are made from a snapshot
// at a time (Engine.restoreSlot); both waits count against ctx. An
// instance has not seen another request, its clocks
// read the time of the call, and its sleep and close-on-context-done
// follow ctx.
//
// The returned error is non-nil only when the plugin was stopped: when ctx
// ended before the plugin finished it is ctx.Err()
// (context.DeadlineExceeded or context.Canceled), returned within a few
// milliseconds of ctx ending even if the plugin loops or sleeps forever;
// when the engine or the handle is closed (a shutdown), the plugin does
// not run and the error says so.
//
// Every misbehaviour of the plugin is instead a Response with Status
// Failed and a host reason from hostabi, whose message says what happened
// and quotes the end of the plugin's log:
//
//   - ReasonExited: a non-zero exit code (a Go panic exits with 2).
//   - ReasonTrapped: the module trapped (unreachable, out-of-bounds
//     access, stack overflow, ...); the message holds the wasm error.
//   - ReasonOutOfMemory: a Go plugin that exited reporting "out of
//     memory", a Rust plugin that trapped after "memory allocation of N
//     bytes failed", or any plugin that trapped after growing its memory
//     to the limit. A Go panic is ReasonExited.
//   - ReasonOutputTooLarge, ReasonLogTooLarge: the plugin wrote more than
//     hostabi.MaxResponseBytes to stdout or hostabi.MaxLogBytes to stderr;
//     the write fails and the instance is stopped at once.
//   - ReasonInvalidResponse: stdout is not one valid Response.
//   - ReasonResultsTooLarge: the Response breaks a result or extraFields
//     limit.
//   - ReasonLoadFailed: the module could not be instantiated, a reactor
//     exited with code 0 in _initialize, or the host could not set up its
//     sandbox (a mount's HostDir is not a directory, req cannot be encoded
//     as JSON).
//
// A reactor that fails in _initialize (trap, exit, out of memory) fails
// the call the same way, since its initialization is part of every call
// (no snapshot is taken of a failed initialization).
//
// Cost: a fresh instance allocates the module's initial memory, copies its
// data segments and then grows its memory as the plugin asks; a
// reactor's from a snapshot then gets the snapshot's memory copied in.
// See docs/performance.md for measured figures: a Go command plugin costs
// several milliseconds of CPU per call, most of it the Go runtime's
// start-up, which a Go reactor's instance from a snapshot skips (about
// 1.3 ms of CPU per call).
func (p *CompiledPlugin) Invoke(ctx context.Context, req *hostabi.Request, inv Invocation) (*hostabi.Response, error) {
	return p.invoke(ctx, inv, func(stdin *bytes.Buffer) error { return json.NewEncoder(stdin).Encode(req) })
}

// InvokeRaw is Invoke with stdin as the plugin's standard input, as is:
// it need not be a Request, nor valid JSON. The host itself only ever
// sends a Request (Invoke); InvokeRaw serves the tests of a plugin's
// handling of malformed input. stdin is copied into the sandbox: its
// size is the caller's to bound.
func (p *CompiledPlugin) InvokeRaw(ctx context.Context, stdin []byte, inv Invocation) (*hostabi.Response, error) {
	return p.invoke(ctx, inv, func(b *bytes.Buffer) error {
		_, err := b.Write(stdin)
		return err
	})
}

// invoke is Invoke and InvokeRaw: writeStdin fills the instance's stdin;
// if it fails, the call fails with ReasonLoadFailed.
func (p *CompiledPlugin) invoke(ctx context.Context, inv Invocation, writeStdin func(*bytes.Buffer) error) (*hostabi.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.acquire(); err != nil {
		return nil, err
	}
	defer p.engine.release(p.c)
	fsConfig, mounts, err := mountConfig(inv.Mounts)
	if err != nil {
		return failure(hostabi.ReasonLoadFailed, "the host could not set up the plugin's sandbox: "+err.Error()), nil
	}
	defer mounts.close() // after the instance, which closes the plugin's files

	var inst *instance
	if fsConfig == nil {
		// Refill once this call's instance is closed (defers run last
		// first): the new instance can then reuse its memory, and is not
		// prepared while the call runs.
		defer p.c.warm.refill()
		inst = p.c.warm.take()
	}
	if inst == nil {
		inst = p.c.newInstance()
	}
	defer inst.close()
	s := inst.s
	s.budget = mounts.budget

	// The instance runs under its own context so that breaking an output
	// limit stops it the same way a deadline does.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	s.bind(runCtx, stop, inv.Log)
	if err := writeStdin(&s.stdin); err != nil {
		return failure(hostabi.ReasonLoadFailed, "the host could not encode the request: "+err.Error()), nil
	}
	if inst.mod == nil {
		if resp, err := p.c.start(ctx, runCtx, inst, fsConfig); resp != nil || err != nil {
			return resp, err
		}
	}
	_, err = inst.mod.ExportedFunction(p.c.kind.export()).Call(withCapabilities(runCtx, inv))
	return s.outcome(ctx, inst.mod, err)
}

// mountSet is the file systems of one invocation's mounts and the budget
// they share.
type mountSet struct {
	fss    []*sandboxfs.FS
	budget *sandboxfs.Budget
}

func (m *mountSet) close() {
	for _, fs := range m.fss {
		_ = fs.Close()
	}
}

// mountConfig mounts each of mounts through sandboxfs. The returned set
// must be closed after the instance.
func mountConfig(mounts []Mount) (wazero.FSConfig, *mountSet, error) {
	set := &mountSet{}
	if len(mounts) == 0 {
		return nil, set, nil
	}
	set.budget = sandboxfs.NewBudget(0, 0)
	cfg := wazero.NewFSConfig()
	for _, m := range mounts {
		if st, err := os.Stat(m.HostDir); err != nil || !st.IsDir() {
			set.close()
			return nil, nil, fmt.Errorf("mount %s: host directory %q is not a directory", m.GuestPath, m.HostDir)
		}
		fs, err := sandboxfs.Open(m.HostDir, m.ReadOnly, set.budget)
		if err != nil {
			set.close()
			return nil, nil, fmt.Errorf("mount %s: %w", m.GuestPath, err)
		}
		set.fss = append(set.fss, fs)
		cfg = cfg.(experimentalsysfs.FSConfig).WithSysFSMount(fs, m.GuestPath)
	}
	return cfg, set, nil
}

var sandboxPool = sync.Pool{New: func() any { return new(sandbox) }}

func getSandbox() *sandbox { return sandboxPool.Get().(*sandbox) }

func putSandbox(s *sandbox) {
	s.reset()
	sandboxPool.Put(s)
}
