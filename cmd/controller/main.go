// Command controller is tekton-wasm's controller: it runs the CustomRuns
// of every custom-task kind for which a plugin ConfigMap is registered
// (see docs/controller.md). It is a knative sharedmain controller, built
// like Tekton's own: leader election (config-leader-election), structured
// logs (config-logging), metrics (config-observability), all read from
// SYSTEM_NAMESPACE; health probes on -probes-port.
//
// In a cluster it runs from config/. Outside one, point it at a cluster
// with -kubeconfig and set SYSTEM_NAMESPACE (see docs/controller.md,
// "Running outside the cluster").
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"

	"github.com/tekton-wasm/tekton-wasm/runtime/reconciler"
)

// component names the controller in logs, metrics and its leader lease.
const component = "tekton-wasm-controller"

func main() {
	var opts reconciler.Options
	flag.StringVar(&opts.Namespace, "plugin-namespace", "",
		"namespace of the plugin ConfigMaps (default: $SYSTEM_NAMESPACE)")
	flag.StringVar(&opts.CacheDir, "cache-dir", "",
		"directory of the on-disk compilation cache; empty keeps compiled plugins in memory only")
	flag.StringVar(&opts.WorkspaceDir, "workspace-dir", "",
		"directory for the workspaces of running invocations, emptied at start; empty uses the system temporary directory and empties nothing")
	flag.IntVar(&opts.Concurrency, "concurrency", 8,
		"most plugin invocations running at once (0: no limit); each may use up to its plugin's memory limit")
	flag.IntVar(&opts.CompileWorkers, "compile-workers", 2,
		"plugin ConfigMaps loaded (decoded and compiled) at once")
	flag.DurationVar(&opts.StatusDelay, "status-delay", reconciler.DefaultStatusDelay,
		"how long a started attempt may go unrecorded while its invocation runs; a faster plugin costs one status write")
	probesPort := flag.String("probes-port", envOr("PROBES_PORT", "8080"),
		"port of the /health and /readiness probes (the default comes from $PROBES_PORT when set)")
	disableHA := flag.Bool("disable-ha", false, "run without leader election")

	cfg := injection.ParseAndGetRESTConfigOrDie() // parses the flags
	if opts.Namespace == "" {
		opts.Namespace = os.Getenv("SYSTEM_NAMESPACE")
	}
	if opts.Namespace == "" {
		log.Fatal("set SYSTEM_NAMESPACE (or -plugin-namespace) to the namespace holding the controller's config and plugin ConfigMaps")
	}
	if opts.Concurrency < 0 || opts.CompileWorkers < 1 || opts.StatusDelay < 0 {
		log.Fatal("-concurrency and -status-delay must not be negative, -compile-workers must be at least 1")
	}

	ctx := signals.NewContext()
	if *disableHA {
		ctx = sharedmain.WithHADisabled(ctx)
	}
	c := reconciler.New(opts)
	// sharedmain's probes listen on a fixed port and know nothing of the
	// plugins; serve our own.
	ctx = sharedmain.WithHealthProbesDisabled(ctx)
	go serveProbes(ctx, *probesPort, c.Ready)
	sharedmain.MainWithConfig(ctx, component, cfg, c.Constructor)
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
