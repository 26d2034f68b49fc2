package reconciler

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned/scheme"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
)

// waitingRuns is how many runs BenchmarkWaitingRuns has waiting at once.
const waitingRuns = 1000

// waitEvery is the requeueAfter of BenchmarkWaitingRuns's runs.
const waitEvery = 10 * time.Minute

// BenchmarkWaitingRuns measures the memory a run costs the controller
// while it waits out its plugin's requeueAfter (Running), as the issue 12
// target (10,000 waiting runs in < 300 MiB) needs it. It drives
// waitingRuns runs of the test plugin (poll, every 10m) to that state as
// the controller does (start, the invocation's end recorded in one status
// write, the informer's copy of the write reconciled, the requeueAfter in
// knative's work queue) and measures the live heap before and after:
//
//   - controller-B/run: what the controller holds per waiting run beside the
//     CustomRun in its informer cache: the reconciler's state of the run,
//     the work-queue entry of its requeueAfter, and whatever else stays
//     live (the engine's, the dispatcher's). It is the growth of the heap
//     less the two copies of each run the world keeps outside the
//     controller, the informer cache's and the fake apiserver's, each
//     measured as a copy of the same objects built afresh.
//   - queue-B/run: the work-queue entry alone.
//   - informer-B/run: the CustomRun as the informer cache holds it (here
//     without the managedFields a real apiserver adds).
//
// B/op and allocs/op (-benchmem) are those of driving waitingRuns runs
// to wait, the invocations' and the fake clientsets' included.
func BenchmarkWaitingRuns(b *testing.B) {
	var controllerB, queueB, informerB float64
	for b.Loop() {
		w := newWorld(b, quietly, withObjects(pluginConfigMap(b, "test", "Test", "")))
		impl := controller.NewContext(w.ctx, w.rec, controller.ControllerOptions{WorkQueueName: "bench", Logger: logging.FromContext(w.ctx)})
		keys := make([]types.NamespacedName, waitingRuns)
		before := liveHeap()
		for i := range keys {
			keys[i] = w.waiting(fmt.Sprintf("r%d", i))
		}
		waiting := liveHeap()
		for _, k := range keys {
			impl.EnqueueKeyAfter(k, waitEvery)
		}
		queued := liveHeap()
		impl.WorkQueue().ShutDown()

		// The informer cache's copies and the fake apiserver's, built
		// afresh from the same objects.
		objs := w.indexer.List()
		indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
		for _, o := range objs {
			if err := indexer.Add(o.(*v1beta1.CustomRun).DeepCopy()); err != nil {
				b.Fatal(err)
			}
		}
		cached := liveHeap()
		tracker := k8stesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder())
		for _, o := range objs {
			if err := tracker.Add(o.(*v1beta1.CustomRun).DeepCopy()); err != nil {
				b.Fatal(err)
			}
		}
		stored := liveHeap()
		runtime.KeepAlive(indexer)
		runtime.KeepAlive(tracker)

		informer := cached - queued
		controllerB += float64(queued-before-informer-(stored-cached)) / waitingRuns
		queueB += float64(queued-waiting) / waitingRuns
		informerB += float64(informer) / waitingRuns
	}
	n := float64(b.N)
	b.ReportMetric(controllerB/n, "controller-B/run")
	b.ReportMetric(queueB/n, "queue-B/run")
	b.ReportMetric(informerB/n, "informer-B/run")
}

// waiting creates the run name of the test plugin (poll, every
// waitEvery) and reconciles it until it waits, as the controller would:
// the reconcile that starts its invocation, the one that records its end
// (Running) and the one of the informer's copy of that write.
func (w *world) waiting(name string) types.NamespacedName {
	w.t.Helper()
	run := parseRun(w.t, run(name, []string{mode("poll"), "{name: every, value: " + waitEvery.String() + "}", "{name: calls, value: '2'}"}, "  timeout: 1h"))
	w.rv++
	run.ResourceVersion = fmt.Sprint(w.rv)
	if err := w.pipeline.Tracker().Add(run); err != nil {
		w.t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: run.Namespace, Name: run.Name}
	w.cache(key)
	w.requeued(key, statusDelay)
	w.invocationEnds(key)
	w.requeued(key, waitEvery)
	w.cache(key)
	w.requeued(key, waitEvery)
	return key
}

// requeued reconciles key, which must ask to be called again after d,
// and drops what the fake clientsets and recorder kept of it.
func (w *world) requeued(key types.NamespacedName, d time.Duration) {
	w.t.Helper()
	err := w.rec.Reconcile(w.ctx, key.String())
	if ok, got := controller.IsRequeueKey(err); !ok || got != d {
		w.t.Fatalf("reconciling %s: %v, want a requeue after %s", key, err, d)
	}
	w.pipeline.ClearActions()
	w.kube.ClearActions()
	for len(w.events.Events) > 0 {
		<-w.events.Events
	}
}

// cache puts the stored copy of key into the informer's cache.
func (w *world) cache(key types.NamespacedName) {
	w.t.Helper()
	if err := w.indexer.Update(w.get(key)); err != nil {
		w.t.Fatal(err)
	}
}

// liveHeap is the bytes of live heap objects after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
