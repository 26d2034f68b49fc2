package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/tekton-wasm/tekton-wasm/internal/cachefile"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
)

// Prewarming. A restarted controller spends most of its first half second
// listing the plugin ConfigMaps (the apiserver's work) and then loading
// them (wazero decoding and validating each module, on a cache hit too).
// The module index therefore also keeps the loaded set: the modules
// loaded once the registry last changed, with the limits they were
// compiled under. Prewarm, called first thing, compiles those modules
// while the list runs; a load of the same module then shares the code
// being compiled (engine.Compile's handles share one compilation) instead
// of starting its own. The loaded set only picks what to compile early,
// never what serves a kind: that is still the ConfigMaps as listed,
// loaded as always. A module no longer listed costs its compilation and
// is released once the ConfigMaps present at start are loaded.

// loadedSetEntry is the module index's entry of the loaded set.
const loadedSetEntry = "loaded-set"

// maxLoadedSet bounds the loaded set read at start (about 150 bytes a
// module).
const maxLoadedSet = 1 << 20

// loadedModule is one module of the loaded set.
type loadedModule struct {
	Digest      string `json:"digest"`
	MemoryBytes uint64 `json:"memoryBytes,omitempty"`
	HTTP        bool   `json:"http,omitempty"`
	Kubernetes  bool   `json:"kubernetes,omitempty"`
	// Bytes is the size of its ConfigMap: the smallest are compiled first,
	// as the registry loads them.
	Bytes int `json:"bytes"`
}

func (m loadedModule) limits() engine.Limits {
	return engine.Limits{MemoryBytes: m.MemoryBytes, Grants: engine.Grants{HTTP: m.HTTP, Kubernetes: m.Kubernetes}}
}

// Prewarmed are the modules of an earlier process's loaded set compiled
// before the Registry started (Prewarm, Options.Prewarmed). Its methods
// are safe for concurrent use.
type Prewarmed struct {
	mu      sync.Mutex
	handles []*engine.CompiledPlugin
	ended   bool
	// workers counts the compiling goroutines.
	workers sync.WaitGroup
}

// Prewarm starts compiling, on workers goroutines and smallest first, the
// modules of the loaded set in indexDir (Options.ModuleIndexDir) that
// eng's caches hold (engine.CompileDigest), and starts no more once stop
// is closed: the ConfigMaps have been listed, and the registry loads what
// they hold. The compiled modules are kept until the Registry given the
// Prewarmed has loaded the ConfigMaps present at start. An indexDir of ""
// or without a loaded set prewarms nothing.
func Prewarm(ctx context.Context, eng *engine.Engine, indexDir string, workers int, stop <-chan struct{}) *Prewarmed {
	p := &Prewarmed{}
	set := readLoadedSet(indexDir)
	if len(set) == 0 {
		return p
	}
	slices.SortStableFunc(set, func(a, b loadedModule) int { return cmp.Compare(a.Bytes, b.Bytes) })
	queue := make(chan loadedModule, len(set))
	for _, m := range set {
		queue <- m
	}
	close(queue)
	for range max(workers, 1) {
		p.workers.Go(func() {
			for m := range queue {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if h, err := eng.CompileDigest(ctx, m.Digest, m.limits()); err == nil {
					p.keep(h)
				}
			}
		})
	}
	return p
}

// keep holds h until end, or closes it if end has been called.
func (p *Prewarmed) keep(h *engine.CompiledPlugin) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		_ = h.Close(context.Background())
		return
	}
	p.handles = append(p.handles, h)
}

// end releases the prewarmed modules (the loads that use them hold
// handles of their own) and returns their digests, and whether this call
// ended the prewarm (false for later calls, and for a nil p).
func (p *Prewarmed) end() (digests []string, ended bool) {
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	handles, first := p.handles, !p.ended
	p.handles, p.ended = nil, true
	p.mu.Unlock()
	for _, h := range handles {
		digests = append(digests, h.Digest())
		_ = h.Close(context.Background())
	}
	return digests, first
}

// readLoadedSet returns the loaded set in dir; nil when there is none or
// it cannot be read.
func readLoadedSet(dir string) []loadedModule {
	if dir == "" {
		return nil
	}
	b, err := cachefile.Read(dir, loadedSetEntry, maxLoadedSet)
	if err != nil {
		return nil
	}
	var set []loadedModule
	if json.Unmarshal(b, &set) != nil {
		return nil
	}
	return set
}

// settle runs after every load: once the ConfigMaps present at start are
// all loaded, it ends the prewarm and records the loaded set when it
// changed.
func (r *Registry) settle() {
	r.mu.RLock()
	if !r.synced || len(r.pending) > 0 {
		r.mu.RUnlock()
		return
	}
	set := make([]loadedModule, 0, len(r.sources))
	for _, s := range r.sources {
		if s.plugin != nil {
			l := s.limits
			set = append(set, loadedModule{Digest: s.plugin.Digest(), MemoryBytes: l.MemoryBytes, HTTP: l.Grants.HTTP, Kubernetes: l.Grants.Kubernetes, Bytes: s.bytes})
		}
	}
	r.mu.RUnlock()

	if prewarmed, ended := r.opts.Prewarmed.end(); ended {
		used := 0
		for _, d := range prewarmed {
			if slices.ContainsFunc(set, func(m loadedModule) bool { return m.Digest == d }) {
				used++
			}
		}
		r.opts.Logger.Infow("Prewarm ended", "prewarmed", len(prewarmed), "used", used)
	}
	if r.opts.ModuleIndexDir == "" {
		return
	}
	slices.SortFunc(set, func(a, b loadedModule) int {
		return cmp.Or(cmp.Compare(a.Digest, b.Digest), cmp.Compare(a.Bytes, b.Bytes), cmp.Compare(a.MemoryBytes, b.MemoryBytes))
	})
	set = slices.Compact(set)
	b, err := json.Marshal(set)
	if err != nil {
		return
	}
	r.recordMu.Lock()
	defer r.recordMu.Unlock()
	if string(b) == r.recorded {
		return
	}
	if err := cachefile.Write(r.opts.ModuleIndexDir, loadedSetEntry, b); err != nil {
		r.opts.Logger.Warnw("Writing the loaded set failed; a restart will not prewarm", "error", err)
		return
	}
	r.recorded = string(b)
}
