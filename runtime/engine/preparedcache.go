package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strconv"

	"github.com/tekton-wasm/tekton-wasm/internal/cachefile"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// The prepared-module cache.
//
// With Config.CacheDir, the engine keeps beside wazero's compiled code the
// module prepareModule made of each module it compiled, as the entry
// named by the module's digest in preparedDir (internal/cachefile: written
// whole or not at all, checked on every read). Compile then skips
// admitting and rewriting a module it has prepared before (for a Go
// plugin, about 30 ms), and CompileDigest compiles a module the caller no
// longer holds, by its digest alone: a restarted controller neither
// decompresses, hashes nor rewrites the modules it loaded before. wazero
// still decodes and validates the prepared module, as for any module.
//
// Entries depend on prepareModule's output: preparedFormat names the
// directory and must change whenever that output does
// (TestPreparedFormatIsCurrent fails until it does), so that a new
// version of the host never runs a module another version prepared.
const preparedFormat = 3

// preparedDir is the directory of the prepared modules within CacheDir.
func preparedDir(cacheDir string) string {
	return filepath.Join(cacheDir, "tekton-wasm-prepared-v"+strconv.Itoa(preparedFormat))
}

// ErrNotCached is CompileDigest's error when the engine holds no module
// of that digest: the caller compiles the module itself (Compile).
var ErrNotCached = errors.New("engine: the module is not in the engine's cache")

// CompileDigest is Compile for the module whose sha256 is digest (hex,
// as wasmmodule.Digest returns it), which the caller does not hold: it
// succeeds when the engine has compiled that module under other limits,
// or its prepared-module cache holds it, and else returns ErrNotCached.
// Only the engine writes its cache; digest must name a module the
// caller itself has verified before (a digest read from somewhere
// untrusted names any module the engine holds).
func (e *Engine) CompileDigest(ctx context.Context, digest string, limits Limits) (*CompiledPlugin, error) {
	if !validDigest(digest) {
		return nil, ErrNotCached
	}
	pages, err := limits.pages()
	if err != nil {
		return nil, err
	}
	key := pluginKey{digest: digest, pages: pages}
	e.mu.Lock()
	_, compiled := e.plugins[key]
	e.mu.Unlock()
	var prepared *preparedModule
	if !compiled {
		if prepared = e.readPrepared(digest); prepared == nil {
			return nil, ErrNotCached
		}
	}
	return e.compileKey(ctx, key, limits, nil, prepared)
}

func validDigest(d string) bool {
	b, err := hex.DecodeString(d)
	return err == nil && len(b) == 32 && hex.EncodeToString(b) == d
}

// readPrepared returns the prepared module of digest from the cache, or
// nil when it holds none (or a damaged one).
func (e *Engine) readPrepared(digest string) *preparedModule {
	if e.preparedDir == "" {
		return nil
	}
	// A prepared module is larger than its module by the wrappers (a few
	// dozen bytes per function) and a counter; the data segments it had
	// taken out come back at most once more.
	b, err := cachefile.Read(e.preparedDir, digest, 3*wasmmodule.MaxBytes)
	if err != nil {
		return nil
	}
	pm, err := decodePrepared(b)
	if err != nil {
		return nil
	}
	return pm
}

// writePrepared stores the prepared module of digest; a failure only
// costs the next process the preparation.
func (e *Engine) writePrepared(digest string, pm *preparedModule) {
	if e.preparedDir != "" {
		_ = cachefile.Write(e.preparedDir, digest, encodePrepared(pm))
	}
}

// encodePrepared is a cache entry's contents: the description of the
// prepared module (why it takes no snapshot, its globals' export names,
// the data segments taken out of it, if any, as a data section), then
// the prepared module itself.
func encodePrepared(pm *preparedModule) []byte {
	b := appendBytes(nil, []byte(pm.noSnapshot))
	b = appendUleb(b, uint32(len(pm.globals)))
	for _, g := range pm.globals {
		b = appendBytes(b, []byte(g))
	}
	if pm.data == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendBytes(b, encodeDataSegments(pm.data))
	}
	return append(b, pm.wasm...)
}

func appendBytes(b, v []byte) []byte { return append(appendUleb(b, uint32(len(v))), v...) }

// decodePrepared reads what encodePrepared wrote.
func decodePrepared(b []byte) (*preparedModule, error) {
	r := &wasmReader{b: b}
	pm := &preparedModule{noSnapshot: string(r.name())}
	for range r.vec("globals", MaxGlobals, 1) {
		pm.globals = append(pm.globals, string(r.name()))
	}
	if r.u8() == 1 && r.err == nil {
		segs, err := parseDataSegments(r.name())
		if err != nil {
			return nil, err
		}
		pm.data = detach(segs)
	}
	if r.err != nil {
		return nil, r.err
	}
	pm.wasm = b[r.pos:]
	return pm, nil
}

// detach returns segs with their bytes copied into one buffer of their
// own. The compiled module keeps its data segments for as long as it
// lives, and parsed in place they would keep the whole cache entry (the
// prepared module, megabytes for a Go plugin) from being freed.
func detach(segs []dataSegment) []dataSegment {
	n := 0
	for _, s := range segs {
		n += len(s.init)
	}
	buf := make([]byte, 0, n)
	out := make([]dataSegment, len(segs))
	for i, s := range segs {
		start := len(buf)
		buf = append(buf, s.init...)
		out[i] = dataSegment{offset: s.offset, init: buf[start:len(buf):len(buf)]}
	}
	return out
}

// dropPrepared removes the prepared module of digest, which wazero
// refused.
func (e *Engine) dropPrepared(digest string) {
	if e.preparedDir != "" {
		_ = cachefile.Remove(e.preparedDir, digest)
	}
}
