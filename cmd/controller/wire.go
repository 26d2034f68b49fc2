package main

import (
	"context"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	pipelineclient "github.com/tektoncd/pipeline/pkg/client/injection/client"
	customruninformer "github.com/tektoncd/pipeline/pkg/client/injection/informers/pipeline/v1beta1/customrun"
	customrunreconciler "github.com/tektoncd/pipeline/pkg/client/injection/reconciler/pipeline/v1beta1/customrun"
	"go.opentelemetry.io/otel"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/clients/dynamicclient"
	"knative.dev/pkg/logging"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/customtask"
	"github.com/tekton-wasm/tekton-wasm/runtime/dispatch"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/metrics"
	"github.com/tekton-wasm/tekton-wasm/runtime/ociplugin"
	"github.com/tekton-wasm/tekton-wasm/runtime/reconciler"
	"github.com/tekton-wasm/tekton-wasm/runtime/registry"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
)

// options configure the controller: its flags.
type options struct {
	// Namespace holds the plugin ConfigMaps.
	Namespace string
	// CacheDir holds the on-disk compilation cache and, in its
	// subdirectory modules, the modules pulled from registries ("": the
	// compiled code in memory only, pulled modules not kept).
	CacheDir string
	// RegistryCA is a PEM file of CA certificates to trust, besides the
	// system's and $SSL_CERT_FILE's, when pulling modules ("": none).
	RegistryCA string
	// WorkspaceDir is where invocations' workspaces are created; stale
	// ones from an earlier process are removed at start ("": the system
	// temporary directory, where nothing is removed).
	WorkspaceDir string
	// Concurrency caps the invocations running at once (0: no limit).
	Concurrency int
	// CompileWorkers is how many plugin ConfigMaps are loaded at once.
	CompileWorkers int
	// StatusDelay: see reconciler.Reconciler.StatusDelay.
	StatusDelay time.Duration
	// RunPace and PluginPace: see reconciler.Reconciler.RunPace.
	RunPace, PluginPace reconciler.Pace
	// Clock is the controller's clock (nil: the real one).
	Clock clock.PassiveClock
}

// wiring builds the CustomRun controller for knative's sharedmain: the
// engine, metrics, plugin registry, dispatcher and workspace preparer, the
// reconciler (runtime/reconciler) around them, and the informers' event
// handlers that feed it.
type wiring struct {
	opts     options
	registry atomic.Pointer[registry.Registry]

	// pluginKube and prelisted are set by prelist (nil: the registry
	// uses knative's client and lists when it starts).
	pluginKube kubernetes.Interface
	prelisted  *registry.Prelisted
}

// prelist starts listing the plugin ConfigMaps with a client of cfg of
// the registry's own, at once: the list and the loads it leads to run
// while sharedmain starts the rest. The client speaks protobuf, which
// decodes the modules in the ConfigMaps' binaryData far faster than
// JSON's base64.
func (c *wiring) prelist(ctx context.Context, cfg *rest.Config) error {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = runtime.ContentTypeProtobuf
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	c.pluginKube, c.prelisted = kube, registry.Prelist(ctx, kube, c.opts.Namespace)
	return nil
}

// newWiring returns a wiring; pass its Constructor to sharedmain.
func newWiring(opts options) *wiring {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &wiring{opts: opts}
}

// Ready reports whether the controller has been built and has loaded
// every plugin ConfigMap that existed when it started: the readiness
// probe.
func (c *wiring) Ready() bool {
	r := c.registry.Load()
	return r != nil && r.HasSynced()
}

// Constructor builds the controller from the injection context: the
// engine, the plugin registry, the reconciler and its informer wiring.
// ctx is the controller's lifetime; invocations end with it.
func (c *wiring) Constructor(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	kube := kubeclient.Get(ctx)

	disp := dispatch.New(c.opts.Concurrency)
	eng, err := engine.New(ctx, engine.Config{
		CacheDir: c.opts.CacheDir,
		// Preparing a reactor instance runs its _initialize: it takes a
		// global slot like an invocation, as the controller's own work
		// (namespace ""), so -concurrency bounds it too.
		PrepareSlot: func(ctx context.Context) (func(), error) { return disp.Acquire(ctx, "", "", 0) },
	})
	if err != nil {
		logger.Fatalw("Creating the WebAssembly engine failed", zap.Error(err))
	}
	m, err := metrics.New(otel.GetMeterProvider())
	if err != nil {
		logger.Fatalw("Creating the metrics failed", zap.Error(err))
	}
	if err := m.ObserveInvocations(disp.Counts); err != nil {
		logger.Fatalw("Registering the invocation gauges failed", zap.Error(err))
	}
	workspaces := &workspace.Preparer{Kube: kube, Dir: c.opts.WorkspaceDir}
	if err := workspaces.RemoveStale(); err != nil {
		logger.Fatalw("Cleaning the workspace directory failed", zap.Error(err))
	}

	var caFiles []string
	if c.opts.RegistryCA != "" {
		caFiles = append(caFiles, c.opts.RegistryCA)
	}
	registryTransport, err := ociplugin.Transport(caFiles...)
	if err != nil {
		logger.Fatalw("Reading the registry CAs failed", zap.Error(err))
	}
	var moduleCacheDir, moduleIndexDir string
	if c.opts.CacheDir != "" {
		// Beside the engine's own subdirectories: what the engine
		// executes is never in them.
		moduleCacheDir = filepath.Join(c.opts.CacheDir, "modules")
		moduleIndexDir = filepath.Join(c.opts.CacheDir, "index")
	}
	pluginKube := c.pluginKube
	if pluginKube == nil {
		pluginKube = kube
	}
	reg := registry.New(registry.Options{
		Engine:            eng,
		Kube:              pluginKube,
		Prelisted:         c.prelisted,
		Namespace:         c.opts.Namespace,
		Recorder:          eventRecorder(ctx),
		Logger:            logger.Named("registry"),
		Metrics:           m,
		Workers:           c.opts.CompileWorkers,
		Resync:            controller.GetResyncPeriod(ctx),
		RegistryTransport: registryTransport,
		ModuleCacheDir:    moduleCacheDir,
		ModuleIndexDir:    moduleIndexDir,
	})
	// Plugins' Kubernetes requests go out with the controller's
	// credentials, impersonating each run's ServiceAccount (kubecap).
	kubeCap, err := kubecap.New(injection.GetConfig(ctx))
	if err != nil {
		logger.Fatalw("Creating the Kubernetes capability's client failed", zap.Error(err))
	}
	r := &reconciler.Reconciler{
		Registry:    reg,
		Dispatcher:  disp,
		Resolver:    customtask.NewResolver(dynamicclient.Get(ctx), kube, c.opts.Clock),
		Workspaces:  workspaces,
		Kubernetes:  kubeCap,
		Client:      pipelineclient.Get(ctx),
		Clock:       c.opts.Clock,
		Metrics:     m,
		StatusDelay: c.opts.StatusDelay,
		RunPace:     c.opts.RunPace,
		PluginPace:  c.opts.PluginPace,
		Context:     ctx,
	}
	impl := customrunreconciler.NewImpl(ctx, r, func(*controller.Impl) controller.Options {
		return controller.Options{
			AgentName:         reconciler.AgentName,
			SkipStatusUpdates: true,
			PromoteFilterFunc: r.Owns,
			DemoteFunc:        r.Demote,
		}
	})
	r.Enqueue = impl.EnqueueKey
	r.IsLeader = impl.Reconciler.(leaderAware).IsLeaderFor

	informer := customruninformer.Get(ctx).Informer()
	if err := informer.SetTransform(reconciler.TrimManagedFields); err != nil {
		logger.Fatalw("Setting the CustomRun informer's transform failed", zap.Error(err))
	}
	if _, err := informer.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: r.Owns,
		Handler:    controller.HandleAll(impl.Enqueue),
	}); err != nil {
		logger.Fatalw("Watching CustomRuns failed", zap.Error(err))
	}
	// A plugin added, fixed, broken or replaced: revisit the runs of its
	// kind (waiting runs start, runs of a broken plugin fail).
	if err := reg.Start(ctx, func(k registry.Kind) {
		impl.FilteredGlobalResync(func(obj any) bool {
			run, ok := obj.(*v1beta1.CustomRun)
			if !ok {
				return false
			}
			apiVersion, kind := lifecycle.Target(run)
			return registry.Kind{APIVersion: apiVersion, Kind: kind} == k
		}, informer)
	}); err != nil {
		logger.Fatalw("Watching plugin ConfigMaps failed", zap.Error(err))
	}
	c.registry.Store(reg)
	go releaseLoadGarbage(ctx, reg.HasSynced)
	return impl
}

// releaseLoadGarbage returns the heap left free by loading the plugins
// present at start (decompressed modules, wazero's decoding and
// compilation garbage) to the operating system once they are loaded, as
// an idle controller would otherwise keep it resident: the Go runtime
// returns free heap only down to about its next collection goal (see
// docs/performance-cluster.md).
func releaseLoadGarbage(ctx context.Context, loaded func() bool) {
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) { return loaded(), nil })
	if err == nil {
		debug.FreeOSMemory()
	}
}

// leaderAware is what the generated reconciler tells of its leadership.
type leaderAware interface {
	IsLeaderFor(types.NamespacedName) bool
}

// eventRecorder returns the recorder of Events on plugin ConfigMaps.
func eventRecorder(ctx context.Context) record.EventRecorder {
	if rec := controller.GetEventRecorder(ctx); rec != nil {
		return rec
	}
	b := record.NewBroadcaster()
	b.StartStructuredLogging(0)
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kubeclient.Get(ctx).CoreV1().Events("")})
	go func() {
		<-ctx.Done()
		b.Shutdown()
	}()
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: reconciler.AgentName})
}
