package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/internal/cachefile"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// The module index (Options.ModuleIndexDir) remembers, for what a
// ConfigMap holds, the digest of the module it was loaded as: for a
// module in the ConfigMap, the sha256 of its stored bytes (compressed or
// not); for a module in a registry, the artifact's digest, which names
// its content. Each entry is written (internal/cachefile) only after
// that module was decoded, checked against the manifest's pin and
// compiled, so the key, computed from the ConfigMap as it is now, can
// only lead to the module those same bytes decoded to. A restarted
// controller then asks the engine for the module by its digest
// (engine.CompileDigest, from the engine's prepared-module cache) and
// skips decompressing, hashing and pulling it. A missing or damaged
// entry, a digest the manifest's pin contradicts, or a module the engine
// no longer holds takes the full path.

// indexKey is the name of the index entry of p's module as stored (nil
// for a module in a registry).
func indexKey(p *manifest.Manifest, stored []byte) string {
	h := sha256.New()
	if ref, remote := p.RegistryModule(); remote {
		// The artifact's digest; RegistryModule's ref ends with it.
		h.Write([]byte("oci\x00"))
		h.Write([]byte(ref[strings.LastIndexByte(ref, '@')+1:]))
	} else {
		h.Write([]byte("configmap\x00"))
		h.Write(stored)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// compileIndexed returns the compiled module the index entry key names,
// or nil when there is none to use.
func (r *Registry) compileIndexed(ctx context.Context, key string, p *manifest.Manifest, limits engine.Limits) *engine.CompiledPlugin {
	if r.opts.ModuleIndexDir == "" {
		return nil
	}
	b, err := cachefile.Read(r.opts.ModuleIndexDir, key, 64)
	if err != nil {
		return nil
	}
	digest := string(b)
	if p.SHA256 != "" && !strings.EqualFold(p.SHA256, digest) {
		return nil // the full path reports the mismatch
	}
	// Any error (ErrNotCached, or one the full path reports again).
	h, err := r.opts.Engine.CompileDigest(ctx, digest, limits)
	if err != nil {
		return nil
	}
	return h
}

// index records that the module stored as key compiled as h.
func (r *Registry) index(key string, h *engine.CompiledPlugin) {
	if r.opts.ModuleIndexDir == "" {
		return
	}
	if err := cachefile.Write(r.opts.ModuleIndexDir, key, []byte(h.Digest())); err != nil {
		r.opts.Logger.Warnw("Writing the module index failed; a restart will decode the module again", "error", err)
	}
}
