// Command controller is tekton-wasm's controller: it runs the CustomRuns
// of every custom-task kind for which a plugin ConfigMap is registered
// (see docs/controller.md). It is a knative sharedmain controller, built
// like Tekton's own: leader election (config-leader-election), structured
// logs (config-logging), metrics (config-observability), all read from
// SYSTEM_NAMESPACE; health probes on -probes-port.
//
// main parses the flags; wire.go builds the controller from them: the
// engine, metrics, plugin registry, dispatcher and workspace preparer, the
// reconciler (runtime/reconciler) around them, and the informers' event
// handlers.
//
// In a cluster it runs from config/. Outside one, point it at a cluster
// with -kubeconfig and set SYSTEM_NAMESPACE (see docs/controller.md,
// "Running outside the cluster").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"knative.dev/pkg/environment"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"

	"github.com/tekton-wasm/tekton-wasm/runtime/reconciler"
)

// component names the controller in logs, metrics and its leader lease.
const component = "tekton-wasm-controller"

// The controller's Kubernetes client budget, the defaults of knative's
// -kube-api-qps and -kube-api-burst (also read from $KUBE_API_QPS and
// $KUBE_API_BURST). Every status write, SubjectAccessReview and workspace
// or customRef read of every run shares it. Left unset, knative would use
// client-go's 5 requests per second with bursts of 10; Tekton's own
// controller runs with 20 and 20.
const (
	defaultKubeAPIQPS   = 20
	defaultKubeAPIBurst = 40
)

func main() {
	var opts options
	flag.StringVar(&opts.Namespace, "plugin-namespace", "",
		"namespace of the plugin ConfigMaps (default: $SYSTEM_NAMESPACE)")
	flag.StringVar(&opts.CacheDir, "cache-dir", "",
		"directory of the on-disk compilation cache and of the modules pulled from registries (in its subdirectory modules); empty keeps compiled plugins in memory only and pulls modules at every load")
	flag.StringVar(&opts.RegistryCA, "registry-ca", "",
		"PEM file of CA certificates to trust, besides the system's and $SSL_CERT_FILE's, when pulling plugin modules from registries")
	flag.StringVar(&opts.WorkspaceDir, "workspace-dir", "",
		"directory for the workspaces of running invocations, emptied at start; empty uses the system temporary directory and empties nothing")
	flag.IntVar(&opts.Concurrency, "concurrency", 8,
		"most plugin invocations running at once (0: no limit); each may use up to its plugin's memory limit")
	flag.IntVar(&opts.CompileWorkers, "compile-workers", 2,
		"plugin ConfigMaps loaded (modules pulled, decoded and compiled) at once")
	flag.DurationVar(&opts.StatusDelay, "status-delay", reconciler.DefaultStatusDelay,
		"how long a started attempt may go unrecorded while its invocation runs; a faster plugin costs one status write")
	flag.Float64Var(&opts.RunPace.QPS, "run-call-qps", reconciler.DefaultRunCallQPS,
		"calls per second one run may make to its plugin after its burst (a plugin answering Running sooner is called at this pace)")
	flag.IntVar(&opts.RunPace.Burst, "run-call-burst", reconciler.DefaultRunCallBurst,
		"calls one run may make in quick succession after its first")
	flag.Float64Var(&opts.PluginPace.QPS, "plugin-call-qps", 0,
		"calls per second the runs of one plugin may make together, beyond their first calls, after the burst (0: the -kube-api-qps)")
	flag.IntVar(&opts.PluginPace.Burst, "plugin-call-burst", 0,
		"calls the runs of one plugin may make together in quick succession, beyond their first calls (0: the -kube-api-burst)")
	probesPort := flag.String("probes-port", envOr("PROBES_PORT", "8080"),
		"port of the /health and /readiness probes (the default comes from $PROBES_PORT when set)")
	disableHA := flag.Bool("disable-ha", false, "run without leader election")

	cfg, err := clientConfig(flag.CommandLine, os.Args[1:]) // parses the flags
	if err != nil {
		log.Fatal(err)
	}
	opts.PluginPace = pluginPace(opts.PluginPace, cfg)
	if opts.Namespace == "" {
		opts.Namespace = os.Getenv("SYSTEM_NAMESPACE")
	}
	if opts.Namespace == "" {
		log.Fatal("set SYSTEM_NAMESPACE (or -plugin-namespace) to the namespace holding the controller's config and plugin ConfigMaps")
	}
	if opts.Concurrency < 0 || opts.CompileWorkers < 1 || opts.StatusDelay < 0 {
		log.Fatal("-concurrency and -status-delay must not be negative, -compile-workers must be at least 1")
	}
	if opts.RunPace.QPS <= 0 || opts.RunPace.Burst < 1 || opts.PluginPace.QPS <= 0 || opts.PluginPace.Burst < 1 {
		log.Fatal("-run-call-qps and -plugin-call-qps must be positive, -run-call-burst and -plugin-call-burst at least 1")
	}

	ctx := signals.NewContext()
	if *disableHA {
		ctx = sharedmain.WithHADisabled(ctx)
	}
	c := newWiring(opts)
	if err := c.prelist(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	// sharedmain's probes listen on a fixed port and know nothing of the
	// plugins; serve our own.
	ctx = sharedmain.WithHealthProbesDisabled(ctx)
	go serveProbes(ctx, *probesPort, c.Ready)
	sharedmain.MainWithConfig(ctx, component, cfg, c.Constructor)
}

// clientConfig registers knative's client flags (-kubeconfig, -server,
// -cluster, -kube-api-qps, -kube-api-burst) and klog's on fs, with the
// controller's client budget as the defaults of the last two, parses args
// and returns the client's config.
func clientConfig(fs *flag.FlagSet, args []string) (*rest.Config, error) {
	env := new(environment.ClientConfig)
	env.InitFlags(fs)
	klog.InitFlags(fs)
	// InitFlags has read $KUBE_API_QPS and $KUBE_API_BURST, 0 when unset.
	if env.QPS == 0 {
		env.QPS = defaultKubeAPIQPS
	}
	if env.Burst == 0 {
		env.Burst = defaultKubeAPIBurst
	}
	fs.Lookup("kube-api-qps").DefValue = strconv.FormatFloat(env.QPS, 'g', -1, 64)
	fs.Lookup("kube-api-burst").DefValue = strconv.Itoa(env.Burst)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	// knative replaces 0 with client-go's defaults: refuse it rather than
	// silently mean 5.
	if env.QPS <= 0 || env.Burst < 1 {
		return nil, fmt.Errorf("-kube-api-qps (%g) and -kube-api-burst (%d) must be positive", env.QPS, env.Burst)
	}
	return env.GetRESTConfig()
}

// pluginPace returns p, a zero QPS or Burst replaced by the client
// budget's: the runs of a plugin come due (requeueAfter) about as fast as
// they started, which the client budget bounds, so a plugin pace below it
// would wake runs started together late (10,000 runs started at 20 a
// second, paced at 10, woke up to 500 s late).
func pluginPace(p reconciler.Pace, cfg *rest.Config) reconciler.Pace {
	if p.QPS == 0 {
		p.QPS = float64(cfg.QPS)
	}
	if p.Burst == 0 {
		p.Burst = cfg.Burst
	}
	return p
}

// serveProbes serves the probes on port until ctx ends.
func serveProbes(ctx context.Context, port string, ready func() bool) {
	srv := &http.Server{Addr: net.JoinHostPort("", port), Handler: probes(ctx, ready), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serving the health probes on port %s: %v", port, err)
	}
}

// probes answers /health (alive until shutdown) and /readiness (ready()
// and not shutting down) with 200, or 503.
func probes(ctx context.Context, ready func() bool) http.Handler {
	probe := func(ok func() bool) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if ctx.Err() != nil || !ok() {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/health", probe(func() bool { return true }))
	mux.Handle("/readiness", probe(ready))
	return mux
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
