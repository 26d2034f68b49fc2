// Package registry keeps the plugins the controller serves, loaded from
// the ConfigMaps labelled tekton-wasm.dev/plugin: "true" in one namespace
// (format: runtime/manifest, FromConfigMap). It owns:
//
//   - Hot reload. Adding, changing or deleting a plugin ConfigMap takes
//     effect without a restart. Modules are decoded and compiled by the
//     registry's own workers, never on a reconcile path; a ConfigMap is
//     loaded again only when its resourceVersion changes.
//   - Start-up. Start lists the plugin ConfigMaps itself (or takes a
//     list started earlier, Prelist) and loads them, smallest first,
//     without waiting for its informer, which starts from that list
//     rather than listing them again (listwatch.go); with a
//     ModuleIndexDir and an engine cache, a
//     ConfigMap loaded before by an earlier process is compiled by its
//     module's digest (moduleindex.go), without decompressing, hashing or
//     pulling the module.
//   - Versions in use. An invocation leases the plugin version it starts
//     with (Acquire) and finishes on it even if the ConfigMap changes
//     meanwhile. A lease holds an engine handle of its own on the
//     version's compiled code (engine.CompiledPlugin.Clone); the registry
//     closes its handle when the version is replaced, and the engine,
//     which counts handles, frees the code when the last lease ends.
//   - Modules in registries (pull.go). A manifest naming its module as
//     oci://HOST/REPO@sha256:… is loaded by pulling the artifact, with the
//     credentials of the kubernetes.io/dockerconfigjson Secrets its
//     pullSecrets name, through the on-disk module cache (ociplugin.Cache)
//     when Options.ModuleCacheDir is set. A failed pull makes the kind
//     broken like any other problem, and the ConfigMap is loaded again
//     with exponential backoff until the pull succeeds or it changes.
//   - Broken plugins. A ConfigMap whose manifest or module is unusable
//     (not wasm, digest mismatch, missing fields, a compile failure, a
//     module over one of the engine's caps, a memory minimum above its
//     limit, or a panic while loading it), or two ConfigMaps claiming one
//     apiVersion/kind, get a Warning Event on the ConfigMap and a log
//     line, and the kind (when known) is registered as broken: Lookup
//     returns an Entry whose Err names the ConfigMap and the problem.
//     Every other plugin keeps working.
//
// A kind's Entry changes only when its plugin is added, replaced, broken,
// fixed or removed; the registry then calls the onChange function given
// to Start, outside its lock, so the caller can revisit the runs of that
// kind.
package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/metrics"
)

// Event reasons on plugin ConfigMaps.
const (
	EventLoaded  = "PluginLoaded"
	EventInvalid = "PluginInvalid"
	// EventPullFailed: the module could not be pulled from its registry;
	// the load is retried with backoff.
	EventPullFailed = "PluginPullFailed"
	EventDuplicate  = "PluginDuplicateKind"
)

// Kind is a custom task type: what a CustomRun's customRef or customSpec
// names and what a plugin serves.
type Kind struct{ APIVersion, Kind string }

func (k Kind) String() string { return k.Kind + " (" + k.APIVersion + ")" }

// Entry is what the registry knows about one Kind. Entries are immutable;
// a change replaces the Entry.
type Entry struct {
	Kind Kind
	// Manifest is the plugin's manifest, nil when Err reports two
	// ConfigMaps claiming the kind.
	Manifest *manifest.Manifest
	// ConfigMap is the plugin's ConfigMap, "namespace/name".
	ConfigMap string
	// Err is non-nil when the kind is claimed but no plugin can serve it;
	// its message names the ConfigMap(s) and the problem.
	Err error
	// CABundle is the PEM of the CA bundle the manifest names
	// (capabilities.http.caBundle), read when the plugin was loaded; nil
	// for none.
	CABundle []byte

	// plugin is the registry's handle on the compiled plugin serving the
	// kind (nil when broken), closed when its ConfigMap changes or goes.
	plugin *engine.CompiledPlugin
}

// Digest is the sha256 of the module serving the kind ("" when broken).
func (e *Entry) Digest() string {
	if e.plugin == nil {
		return ""
	}
	return e.plugin.Digest()
}

// source is what one ConfigMap held when it was last loaded.
type source struct {
	configMap       *corev1.ConfigMap // metadata only, for events
	resourceVersion string
	kind            Kind // zero when the manifest could not be read
	manifest        *manifest.Manifest
	plugin          *engine.CompiledPlugin // nil when err != nil
	caBundle        []byte
	err             error
	// retry is set when err is a failed pull, which a later load may heal.
	retry bool
}

func (s *source) key() string { return s.configMap.Namespace + "/" + s.configMap.Name }

// Options configure a Registry.
type Options struct {
	// Engine compiles the modules.
	Engine *engine.Engine
	// Kube watches the ConfigMaps of Namespace.
	Kube      kubernetes.Interface
	Namespace string
	// Recorder records Events on plugin ConfigMaps.
	Recorder record.EventRecorder
	Logger   *zap.SugaredLogger
	Metrics  *metrics.Metrics
	// Workers is how many ConfigMaps are loaded (pulled, decoded and
	// compiled) at once (default 2). Compiling keeps a core busy; a pull
	// waits on its registry (at most PullTimeout).
	Workers int
	// Resync is the informer's resync period (0: none).
	Resync time.Duration

	// RegistryTransport carries the requests to OCI registries (nil:
	// go-containerregistry's default, trusting the system's CAs; see
	// ociplugin.Transport).
	RegistryTransport http.RoundTripper
	// ModuleCacheDir keeps pulled modules by digest (ociplugin.Cache);
	// "" pulls a module whenever a ConfigMap naming it is loaded.
	ModuleCacheDir string
	// Prelisted, when set, is the list of the plugin ConfigMaps of
	// Namespace that Start would make (Prelist), started earlier.
	Prelisted *Prelisted
	// ModuleIndexDir keeps the module index (moduleindex.go): with an
	// Engine that has a CacheDir, a ConfigMap loaded before, by this
	// process or an earlier one, is compiled by its module's digest,
	// without decompressing, hashing or pulling the module ("": never).
	// Only the controller may write it.
	ModuleIndexDir string
	// PullTimeout bounds one pull (default DefaultPullTimeout). Pulls run
	// on the Workers.
	PullTimeout time.Duration
	// RetryBase and RetryMax are the backoff of loading a ConfigMap again
	// after its pull failed (defaults DefaultRetryBase, DefaultRetryMax).
	RetryBase, RetryMax time.Duration
}

// Registry is the set of loaded plugins. It is safe for concurrent use.
type Registry struct {
	opts     Options
	informer cache.SharedIndexInformer
	lister   corev1listers.ConfigMapLister
	lw       *listWatch
	// started hands the list made at start (nil: it failed) to the
	// informer (listWatch).
	started chan *corev1.ConfigMapList
	queue   workqueue.TypedRateLimitingInterface[string]
	pulls   singleflight.Group // by artifact and pull secrets

	mu      sync.RWMutex
	sources map[string]*source // by ConfigMap key
	kinds   map[Kind]*Entry
	pending map[string]bool // ConfigMaps listed at start and not yet loaded
	// listed are the ConfigMaps Start listed, until the informer has
	// synced (nil after, or if the list failed).
	listed   map[string]*corev1.ConfigMap
	synced   bool
	onChange func(Kind)
}

// New returns a Registry; Start starts it.
func New(opts Options) *Registry {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	opts.PullTimeout = cmp.Or(opts.PullTimeout, DefaultPullTimeout)
	opts.RetryBase = cmp.Or(opts.RetryBase, DefaultRetryBase)
	opts.RetryMax = cmp.Or(opts.RetryMax, DefaultRetryMax)
	r := &Registry{
		opts:    opts,
		started: make(chan *corev1.ConfigMapList, 1),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.NewTypedItemExponentialFailureRateLimiter[string](opts.RetryBase, opts.RetryMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "plugin-configmaps"}),
		sources: map[string]*source{},
		kinds:   map[Kind]*Entry{},
	}
	r.lw = &listWatch{kube: opts.Kube, namespace: opts.Namespace, first: r.startList}
	r.informer = r.lw.newInformer(opts.Resync)
	r.lister = corev1listers.NewConfigMapLister(r.informer.GetIndexer())
	return r
}

// startList returns the list made at start (list) once it is known, nil
// if it failed or ctx ended: the informer's first list.
func (r *Registry) startList(ctx context.Context) *corev1.ConfigMapList {
	select {
	case l := <-r.started:
		return l
	case <-ctx.Done():
		return nil
	}
}

// Start watches the plugin ConfigMaps and loads them with the workers
// until ctx ends. It returns at once; HasSynced reports when the
// ConfigMaps that existed at start are loaded. onChange is called with
// every Kind whose Entry changed.
//
// The workers do not wait for the informer: Start lists the plugin
// ConfigMaps itself and loads them, smallest first, while the informer
// starts from the same list (from the on-disk caches, after a restart:
// see Options.ModuleIndexDir). Until
// the informer has synced, a ConfigMap it has not delivered yet is loaded
// as listed; once it has, every listed ConfigMap is looked at again
// through the informer, which costs nothing for one loaded at the same
// resourceVersion and removes one deleted meanwhile. If the list fails,
// the workers load what the informer delivers, as it does after start.
func (r *Registry) Start(ctx context.Context, onChange func(Kind)) error {
	r.mu.Lock()
	r.onChange = onChange
	r.mu.Unlock()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			r.queue.Add(key)
		}
	}
	if _, err := r.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	go r.informer.Run(ctx.Done())
	go func() {
		defer r.queue.ShutDown()
		listed := r.list(ctx)
		for range r.opts.Workers {
			go wait.UntilWithContext(ctx, r.work, time.Second)
		}
		if !cache.WaitForCacheSync(ctx.Done(), r.informer.HasSynced) {
			return
		}
		r.mu.Lock()
		r.listed = nil // the lister knows them all now
		if listed == nil {
			r.pending = map[string]bool{}
			for _, key := range r.informer.GetStore().ListKeys() {
				r.pending[key] = true
				listed = append(listed, key)
			}
			r.synced = true
		}
		r.mu.Unlock()
		// Loaded already, unchanged: each marks its key loaded; changed
		// or deleted since listed: brought up to date.
		for _, key := range listed {
			r.queue.Add(key)
		}
		<-ctx.Done()
	}()
	return nil
}

// Prelisted is a list of the plugin ConfigMaps started before the
// Registry (Prelist, Options.Prelisted).
type Prelisted struct {
	done chan struct{}
	list *corev1.ConfigMapList
	err  error
}

// Prelist starts listing the plugin ConfigMaps of namespace at once, for
// one Registry created later with Options.Prelisted: a controller calls
// it first thing, so that the list runs while the rest starts.
func Prelist(ctx context.Context, kube kubernetes.Interface, namespace string) *Prelisted {
	p := &Prelisted{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.list, p.err = kube.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: pluginSelector})
	}()
	return p
}

// list lists the plugin ConfigMaps (or takes Options.Prelisted), records
// them as pending and listed, and queues them; it returns their keys, or
// nil if the list failed.
func (r *Registry) list(ctx context.Context) []string {
	p := r.opts.Prelisted
	if p == nil {
		p = Prelist(ctx, r.opts.Kube, r.opts.Namespace)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil
	}
	// Taken: the ConfigMaps (their modules) are not kept for longer
	// than the informer takes to sync.
	l, err := p.list, p.err
	p.list = nil
	if l == nil && err == nil {
		err = errors.New("the prelisted ConfigMaps were taken by another registry")
	}
	if err != nil {
		r.started <- nil // the informer lists
		r.opts.Logger.Warnw("Listing the plugin ConfigMaps failed; loading them as the informer delivers them", zap.Error(err))
		return nil
	}
	r.started <- l
	// Queued smallest first: a small module loads in milliseconds and
	// should not wait behind large ones (a Go plugin's takes ~100 ms of
	// CPU). A module in a registry counts as its ConfigMap, as its size is
	// not known before the pull.
	cms := make([]*corev1.ConfigMap, len(l.Items))
	for i := range l.Items {
		cms[i] = &l.Items[i]
	}
	slices.SortStableFunc(cms, func(a, b *corev1.ConfigMap) int { return manifest.ConfigMapBytes(a) - manifest.ConfigMapBytes(b) })
	keys := make([]string, 0, len(cms))
	r.mu.Lock()
	r.pending, r.listed, r.synced = map[string]bool{}, map[string]*corev1.ConfigMap{}, true
	for _, cm := range cms {
		key := cm.Namespace + "/" + cm.Name
		r.pending[key], r.listed[key] = true, cm
		keys = append(keys, key)
	}
	r.mu.Unlock()
	for _, key := range keys {
		r.queue.Add(key)
	}
	return keys
}

// pluginSelector selects the plugin ConfigMaps.
const pluginSelector = manifest.PluginLabel + "=" + manifest.PluginLabelValue

// HasSynced reports whether every plugin ConfigMap that existed when the
// registry started has been loaded (successfully or not).
func (r *Registry) HasSynced() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.synced && len(r.pending) == 0
}

// Lookup returns the Entry of apiVersion/kind, or nil when no ConfigMap
// claims it.
func (r *Registry) Lookup(apiVersion, kind string) *Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.kinds[Kind{apiVersion, kind}]
}

// Lease is the use of one plugin version by one invocation. Its Plugin
// may be invoked from any goroutine until Release, which may also be
// called from any goroutine, and more than once.
type Lease struct {
	// Entry is the kind's Entry when the lease was taken.
	Entry *Entry
	// Plugin is the lease's own handle on the compiled plugin, to invoke;
	// Release closes it.
	Plugin *engine.CompiledPlugin
}

// Release ends the lease; releasing twice is harmless. A version
// replaced meanwhile is freed by the engine when its last lease ends.
func (l *Lease) Release() { _ = l.Plugin.Close(context.Background()) }

// Acquire leases the plugin version serving apiVersion/kind now. It
// fails when no ConfigMap claims the kind or its Entry is broken (with
// Entry.Err), or when the engine is closed (a shutdown).
func (r *Registry) Acquire(apiVersion, kind string) (*Lease, error) {
	// The read lock keeps the Entry's handle open while it is cloned:
	// replace closes it only after taking the Entry out of r.kinds.
	r.mu.RLock()
	defer r.mu.RUnlock()
	e := r.kinds[Kind{apiVersion, kind}]
	switch {
	case e == nil:
		return nil, fmt.Errorf("no plugin serves %s", Kind{apiVersion, kind})
	case e.Err != nil:
		return nil, e.Err
	}
	p, err := e.plugin.Clone()
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", e.Kind, err)
	}
	return &Lease{Entry: e, Plugin: p}, nil
}

func (r *Registry) work(ctx context.Context) {
	for {
		key, quit := r.queue.Get()
		if quit {
			return
		}
		if err := r.sync(ctx, key); err != nil {
			if !errors.As(err, new(errPull)) { // load logged those
				r.opts.Logger.Errorw("Loading a plugin ConfigMap failed; retrying", zap.String("configmap", key), zap.Error(err))
			}
			r.queue.AddRateLimited(key)
		} else {
			r.queue.Forget(key)
		}
		r.queue.Done(key)
	}
}

// sync brings the registry up to date with the ConfigMap key.
func (r *Registry) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // never a key of ours
	}
	cm, err := r.lister.ConfigMaps(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Not delivered by the informer yet, or deleted.
		r.mu.RLock()
		if listed := r.listed[key]; listed != nil {
			cm, err = listed, nil
		}
		r.mu.RUnlock()
	}
	switch {
	case apierrors.IsNotFound(err):
		r.replace(key, nil)
		return nil
	case err != nil:
		return err
	}
	r.mu.RLock()
	old := r.sources[key]
	r.mu.RUnlock()
	if old != nil && old.resourceVersion == cm.ResourceVersion && !old.retry {
		r.loaded(key)
		return nil
	}
	src := r.load(ctx, cm)
	r.replace(key, src)
	if src.retry {
		return src.err
	}
	return nil
}

// load decodes and compiles the plugin of cm, recording the outcome as an
// Event on cm, a log line and metrics.
func (r *Registry) load(ctx context.Context, cm *corev1.ConfigMap) *source {
	src := &source{
		configMap: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Namespace: cm.Namespace, Name: cm.Name, UID: cm.UID, ResourceVersion: cm.ResourceVersion}},
		resourceVersion: cm.ResourceVersion,
	}
	log := r.opts.Logger.With(zap.String("configmap", src.key()))
	var p *manifest.Manifest
	var h *engine.CompiledPlugin
	var elapsed, pulled time.Duration
	err := func() (err error) {
		// A panic in decoding or compiling (a bug the ConfigMap reached)
		// makes this plugin broken, not the controller.
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("ConfigMap %s: the host failed while loading the plugin (%v); this is a bug in tekton-wasm: please report it with the ConfigMap", src.key(), v)
			}
		}()
		var stored []byte
		if p, stored, err = decodeConfigMap(cm); err != nil {
			return err
		}
		limits := engine.Limits{MemoryBytes: p.Limits.MemoryBytes(), Grants: engine.Grants{HTTP: p.Capabilities.HTTP != nil, Kubernetes: p.Capabilities.GrantsKubernetes()}}
		_, remote := p.RegistryModule()
		var keychain authn.Keychain
		if remote {
			// Read at every load, also when the module is cached.
			if keychain, err = r.pullSecrets(ctx, p); err != nil {
				src.retry = true
				return fmt.Errorf("ConfigMap %s: plugin %q: %w", src.key(), p.Name, err)
			}
		}
		key := indexKey(p, stored)
		start := time.Now()
		h = r.compileIndexed(ctx, key, p, limits)
		elapsed = time.Since(start)
		var module []byte
		switch {
		case h != nil:
		case remote:
			start := time.Now()
			module, err = r.pull(ctx, p, keychain)
			pulled = time.Since(start)
			if err != nil {
				src.retry = errors.As(err, new(errPull))
				return fmt.Errorf("ConfigMap %s: plugin %q: %w", src.key(), p.Name, err)
			}
		default:
			if module, err = decodeModule(p, stored); err != nil {
				return fmt.Errorf("ConfigMap %s: %w", src.key(), err)
			}
		}
		if src.caBundle, err = r.caBundle(ctx, p); err != nil {
			return fmt.Errorf("ConfigMap %s: plugin %q: %w", src.key(), p.Name, err)
		}
		if h != nil {
			return nil
		}
		start = time.Now()
		h, err = r.opts.Engine.Compile(ctx, module, limits)
		elapsed = time.Since(start)
		if err != nil {
			return fmt.Errorf("ConfigMap %s: plugin %q: %w", src.key(), p.Name, err)
		}
		r.index(key, h)
		return nil
	}()
	if err != nil && h != nil { // compiled from the index, then failed
		_ = h.Close(context.Background())
		h = nil
	}
	if p != nil {
		src.kind, src.manifest = Kind{p.APIVersion, p.Kind}, p
		log = log.With(zap.String("plugin", p.Name), zap.String("kind", src.kind.String()))
	}
	if err == nil {
		r.opts.Metrics.Compiled(ctx, p.Name, elapsed)
		src.plugin = h
		fields := []any{zap.String("sha256", h.Digest()), zap.Duration("compileTime", elapsed)}
		if _, remote := p.RegistryModule(); remote {
			// From the registry, or the module cache.
			fields = append(fields, zap.Duration("pullTime", pulled))
		}
		log.Infow("Loaded plugin", fields...)
		r.opts.Recorder.Eventf(src.configMap, corev1.EventTypeNormal, EventLoaded,
			"Plugin %q serves %s: module sha256 %s, compiled in %s", p.Name, src.kind, h.Digest(), elapsed.Round(time.Millisecond))
		return src
	}
	src.err = err
	r.opts.Metrics.LoadFailed(ctx, src.key())
	if src.retry {
		log.Errorw("Pulling the plugin's module failed; retrying with backoff", zap.Error(err))
		r.opts.Recorder.Event(src.configMap, corev1.EventTypeWarning, EventPullFailed, err.Error())
		return src
	}
	log.Errorw("Plugin ConfigMap is invalid", zap.Error(err))
	r.opts.Recorder.Event(src.configMap, corev1.EventTypeWarning, EventInvalid, err.Error())
	return src
}

// decodeConfigMap is manifest.ReadConfigMap; tests replace it to check
// that a panic in loading is contained.
var decodeConfigMap = manifest.ReadConfigMap

// decodeModule is Manifest.Decode; tests count its calls.
var decodeModule = (*manifest.Manifest).Decode

// replace installs src (nil: the ConfigMap is gone) as what key holds,
// updates the Entries of the kinds involved and closes the registry's
// handle on the version src replaces (leases hold handles of their own).
func (r *Registry) replace(key string, src *source) {
	r.mu.Lock()
	old := r.sources[key]
	if src == nil {
		delete(r.sources, key)
	} else {
		r.sources[key] = src
	}
	var kinds []Kind
	for _, s := range []*source{old, src} {
		if s != nil && s.kind != (Kind{}) && !slices.Contains(kinds, s.kind) {
			kinds = append(kinds, s.kind)
		}
	}
	var changed []Kind
	var duplicates [][]*source
	for _, k := range kinds {
		e, claims := r.resolve(k)
		if len(claims) > 1 {
			duplicates = append(duplicates, claims)
		}
		if cur := r.kinds[k]; sameEntry(cur, e) {
			continue
		}
		if e == nil {
			delete(r.kinds, k)
		} else {
			r.kinds[k] = e
		}
		changed = append(changed, k)
	}
	delete(r.pending, key)
	onChange := r.onChange
	r.mu.Unlock()

	if old != nil && old.plugin != nil {
		_ = old.plugin.Close(context.Background())
	}
	for _, claims := range duplicates {
		r.reportDuplicate(claims)
	}
	if onChange != nil {
		for _, k := range changed {
			onChange(k)
		}
	}
}

// resolve computes the Entry of k from the sources claiming it, sorted by
// ConfigMap. r.mu must be held.
func (r *Registry) resolve(k Kind) (*Entry, []*source) {
	var claims []*source
	for _, s := range r.sources {
		if s.kind == k {
			claims = append(claims, s)
		}
	}
	slices.SortFunc(claims, func(a, b *source) int { return strings.Compare(a.key(), b.key()) })
	switch len(claims) {
	case 0:
		return nil, nil
	case 1:
		s := claims[0]
		return &Entry{Kind: k, Manifest: s.manifest, ConfigMap: s.key(), Err: s.err, CABundle: s.caBundle, plugin: s.plugin}, claims
	}
	return &Entry{Kind: k, ConfigMap: strings.Join(configMaps(claims), ", "), Err: duplicateError(claims)}, claims
}

func configMaps(claims []*source) []string {
	names := make([]string, len(claims))
	for i, s := range claims {
		names[i] = s.key()
	}
	return names
}

func duplicateError(claims []*source) error {
	return fmt.Errorf("ConfigMaps %s all serve %s; delete all but one", strings.Join(configMaps(claims), " and "), claims[0].kind)
}

func sameEntry(a, b *Entry) bool {
	switch {
	case a == nil || b == nil:
		return a == b
	case a.plugin != b.plugin || a.ConfigMap != b.ConfigMap:
		return false
	case a.Err == nil || b.Err == nil:
		return a.Err == b.Err
	}
	return a.Err.Error() == b.Err.Error()
}

func (r *Registry) reportDuplicate(claims []*source) {
	err := duplicateError(claims)
	r.opts.Logger.Errorw("Plugin ConfigMaps claim the same kind", zap.Strings("configmaps", configMaps(claims)), zap.Error(err))
	for _, s := range claims {
		r.opts.Metrics.LoadFailed(context.Background(), s.key())
		r.opts.Recorder.Event(s.configMap, corev1.EventTypeWarning, EventDuplicate, err.Error())
	}
}

// loaded marks key as loaded for HasSynced.
func (r *Registry) loaded(key string) {
	r.mu.Lock()
	delete(r.pending, key)
	r.mu.Unlock()
}
