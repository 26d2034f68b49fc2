// Command baseline is the native Go custom-task controller that tekton-wasm's
// cluster benchmarks (make bench-cluster, docs/performance-cluster.md) compare
// against. It is for benchmarking only.
//
// It is built like Tekton's reference custom-task controller (tektoncd/
// pipeline's test/custom-task-ctrls/wait-task-beta) and like tekton-wasm's own
// controller: knative sharedmain, Tekton's generated CustomRun reconciler, an
// informer filtered to one customRef kind (bench.tekton-wasm.dev/v1alpha1,
// NativeNoop by default). For each run it does what the benchmark's no-op
// plugin does (test/bench/plugins/noop): succeed at once with one result, in
// one status update carrying startTime, the Succeeded condition,
// completionTime and the result, plus one Normal Event with the reason — the
// same writes tekton-wasm's controller makes for a plugin that answers within
// its -status-delay.
//
// Outside a cluster: SYSTEM_NAMESPACE=<namespace with config-logging,
// config-observability, config-leader-election> baseline -kubeconfig FILE
// -disable-ha.
package main

import (
	"context"
	"flag"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	customruninformer "github.com/tektoncd/pipeline/pkg/client/injection/informers/pipeline/v1beta1/customrun"
	customrunreconciler "github.com/tektoncd/pipeline/pkg/client/injection/reconciler/pipeline/v1beta1/customrun"
	tektoncontroller "github.com/tektoncd/pipeline/pkg/controller"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/signals"
)

// Reason, message and result of every run, as the no-op plugin answers.
const (
	reasonDone  = "Done"
	messageDone = "no-op"
	resultName  = "result"
	resultValue = "ok"
)

func main() {
	apiVersion := flag.String("api-version", "bench.tekton-wasm.dev/v1alpha1", "customRef apiVersion served")
	kind := flag.String("kind", "NativeNoop", "customRef kind served")
	disableHA := flag.Bool("disable-ha", false, "run without leader election")
	cfg := injection.ParseAndGetRESTConfigOrDie() // parses the flags

	ctx := signals.NewContext()
	if *disableHA {
		ctx = sharedmain.WithHADisabled(ctx)
	}
	sharedmain.MainWithConfig(ctx, "tekton-wasm-bench-baseline", cfg,
		func(ctx context.Context, _ configmap.Watcher) *controller.Impl {
			impl := customrunreconciler.NewImpl(ctx, &noop{})
			informer := customruninformer.Get(ctx).Informer()
			if _, err := informer.AddEventHandler(cache.FilteringResourceEventHandler{
				FilterFunc: tektoncontroller.FilterCustomRunRef(*apiVersion, *kind),
				Handler:    controller.HandleAll(impl.Enqueue),
			}); err != nil {
				logging.FromContext(ctx).Fatalw("Watching CustomRuns failed", "error", err)
			}
			return impl
		})
}

// noop ends every run Succeeded at once; the generated reconciler writes the
// changed status in one update and records the returned Event.
type noop struct{}

func (*noop) ReconcileKind(_ context.Context, run *v1beta1.CustomRun) reconciler.Event {
	if run.IsDone() {
		return nil
	}
	now := metav1.Now()
	if run.Status.StartTime == nil {
		run.Status.StartTime = &now
	}
	run.Status.CompletionTime = &now
	run.Status.Results = []v1beta1.CustomRunResult{{Name: resultName, Value: resultValue}}
	run.Status.MarkCustomRunSucceeded(reasonDone, messageDone)
	return reconciler.NewEvent(corev1.EventTypeNormal, reasonDone, messageDone)
}
