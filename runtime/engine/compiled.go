package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// compiled is the plugin of one pluginKey, shared by every
// CompiledPlugin handle of it. refs counts open handles and running
// invocations, under Engine.mu; its use of the code is dropped when refs
// drops to zero.
type compiled struct {
	key    pluginKey
	rt     *sandboxRuntime
	engine *Engine

	ready chan struct{} // closed when err and code are set
	err   error
	*code // nil if err != nil

	refs int
}

// code is one compiled module, shared by every pluginKey whose module
// prepares to the same bytes and description (modules that differ only in
// custom sections, e.g. one with its manifest embedded) under the same
// memory limit: wazero decodes, validates and keeps such a module once.
// users counts the compiled entries using it, under Engine.mu; the module
// is closed when it drops to zero.
type code struct {
	key codeKey

	ready  chan struct{} // closed when the fields below are set
	err    error
	module wazero.CompiledModule
	kind   moduleKind
	data   []dataSegment // the data segments taken out of the module (writeData)
	snaps  *snapshotter  // nil for a command
	warm   *warmPool     // nil for a command, or when WarmInstances < 0

	users int
}

// codeKey names a code: the sha256 of the prepared module as the
// prepared-module cache stores it (its description and bytes), and the
// memory limit in pages.
type codeKey struct {
	sum   [sha256.Size]byte
	pages uint32
}

// newInstance returns an instance of c, not yet created in wazero, with a
// sandbox of its own.
func (c *compiled) newInstance() *instance {
	return &instance{s: getSandbox(), memory: c.engine.memory}
}

// start creates inst's module for a call and, for a reactor, readies it
// for tekton_run (create). A non-nil Response or error is the call's
// outcome: the instance could not be started.
func (c *compiled) start(ctx, runCtx context.Context, inst *instance, fsConfig wazero.FSConfig) (*hostabi.Response, error) {
	s := inst.s
	instantiated, err := c.create(runCtx, inst, fsConfig)
	var restore *restoreError
	switch {
	case err == nil:
		return nil, nil
	case !instantiated:
		// Linking failed, or the module's wasm start function (run at
		// instantiation, before _start) did.
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case s.broken != "":
			return failure(s.broken, s.brokenMessage()), nil
		}
		return failure(hostabi.ReasonLoadFailed, s.withLog(fmt.Sprintf("the plugin could not be instantiated: %v", err))), nil
	case errors.As(err, &restore):
		return failure(hostabi.ReasonLoadFailed, restore.msg), nil
	}
	if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
		return failure(hostabi.ReasonLoadFailed, s.withLog("the plugin exited in "+initializeExport+", before "+runExport+" could be called")), nil
	}
	return s.outcome(ctx, inst.mod, err)
}

// create creates inst's module and, for a reactor, readies it for
// tekton_run: without fsConfig (mounts), from the snapshot once there is
// one (snapshot.go), else by running _initialize, which takes the
// snapshot if none is taken yet. An instance that gets no snapshot gets
// the data segments taken out of the module (writeData). instantiated
// reports whether the module was created with its data; err is then what
// readying it returned.
func (c *compiled) create(ctx context.Context, inst *instance, fsConfig wazero.FSConfig) (instantiated bool, err error) {
	var snap *snapshot
	take := false
	if c.snaps != nil && fsConfig == nil {
		if snap, take, err = c.snaps.get(ctx); err != nil {
			return false, err
		}
	}
	if snap != nil {
		release, err := c.engine.restoreSlot(ctx)
		if err != nil {
			return false, err
		}
		defer release()
		inst.restoring = uint64(len(snap.memory))
	}
	err = c.instantiate(ctx, inst, fsConfig)
	if err == nil && snap == nil {
		err = c.writeData(inst.mod)
	}
	if err != nil {
		if take {
			c.snaps.abandon()
		}
		return false, err
	}
	switch {
	case c.kind != kindReactor:
		return true, nil
	case snap != nil:
		return true, snap.restore(inst.mod, c.snaps.globals)
	}
	stdin := inst.s.stdin.Len()
	err = c.initialize(ctx, inst.mod)
	if take {
		c.snaps.taken(ctx, inst, stdin, err)
	}
	return true, err
}

// instantiate creates inst's module, with its sandbox's stdio and sleep.
func (c *compiled) instantiate(ctx context.Context, inst *instance, fsConfig wazero.FSConfig) error {
	s := inst.s
	cfg := c.engine.baseConfig.
		WithStdin((*stdinReader)(s)).
		WithStdout((*stdoutWriter)(s)).
		WithStderr((*stderrWriter)(s)).
		WithNanosleep(s.sleep)
	if fsConfig != nil {
		cfg = cfg.WithFSConfig(fsConfig)
	}
	mod, err := c.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, inst), c.module, cfg)
	if err != nil {
		return err
	}
	inst.mod = mod
	return nil
}

// writeData writes the data segments taken out of the module into mod's
// memory, in their order, as instantiation would have: it fails, as
// instantiation would have, if one does not fit the initial memory. No
// guest code has run yet: a module with a start function keeps its
// segments.
func (c *compiled) writeData(mod api.Module) error {
	for _, seg := range c.data {
		if !mod.Memory().Write(seg.offset, seg.init) {
			return fmt.Errorf("its data segments (%d bytes at offset %d) do not fit its initial memory (%s)",
				len(seg.init), seg.offset, formatBytes(uint64(mod.Memory().Size())))
		}
	}
	return nil
}

// initialize calls a reactor's _initialize, if it exports one.
func (c *compiled) initialize(ctx context.Context, mod api.Module) error {
	f := mod.ExportedFunction(initializeExport)
	if f == nil {
		return nil
	}
	_, err := f.Call(ctx)
	return err
}
