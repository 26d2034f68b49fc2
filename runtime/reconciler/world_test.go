package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	pipelinefake "github.com/tektoncd/pipeline/pkg/client/clientset/versioned/fake"
	customrunreconciler "github.com/tektoncd/pipeline/pkg/client/injection/reconciler/pipeline/v1beta1/customrun"
	pipelinelisters "github.com/tektoncd/pipeline/pkg/client/listers/pipeline/v1beta1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/customtask"
	"github.com/tekton-wasm/tekton-wasm/runtime/dispatch"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/registry"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
)

// now is the fake clock's time when a world starts; timestamps in the
// YAML of the tests are relative to it.
var now = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

const (
	systemNS = "tekton-wasm"
	testAPI  = "test.tekton-wasm.dev/v1"
	// statusDelay is the worlds' Reconciler.StatusDelay.
	statusDelay = 2 * time.Second
)

var (
	sharedEngine struct {
		once sync.Once
		eng  *engine.Engine
		err  error
	}
	testGVR = schema.GroupVersionResource{Group: "test.tekton-wasm.dev", Version: "v1", Resource: "tests"}
)

// testEngine is one engine for the whole test process, so the test plugin
// is compiled once: here, before any world waits for its registry to load
// it (which then takes the compiled module from the engine's cache), so
// that the compile, slow under -race on a busy machine, counts against no
// world's deadline.
func testEngine(t testing.TB) *engine.Engine {
	t.Helper()
	sharedEngine.once.Do(func() {
		ctx := context.Background()
		if sharedEngine.eng, sharedEngine.err = engine.New(ctx, engine.Config{}); sharedEngine.err == nil {
			_, sharedEngine.err = sharedEngine.eng.Compile(ctx, testPlugin(t), engine.Limits{})
		}
	})
	if sharedEngine.err != nil {
		t.Fatal(sharedEngine.err)
	}
	return sharedEngine.eng
}

// testPlugin is the module of testdata/plugin.
func testPlugin(t testing.TB) []byte {
	t.Helper()
	return wasmtest.GoPlugin(t, "testdata/plugin")
}

// pluginConfigMap registers the test plugin for kind, with extra manifest
// lines.
func pluginConfigMap(t testing.TB, name, kind, extra string) *corev1.ConfigMap {
	t.Helper()
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: name, Labels: map[string]string{manifest.PluginLabel: manifest.PluginLabelValue}},
		Data: map[string]string{manifest.ManifestKey: fmt.Sprintf("name: %s\napiVersion: %s\nkind: %s\nmodule: plugin.wasm\n%s",
			name, testAPI, kind, extra)},
		BinaryData: map[string][]byte{"plugin.wasm": testPlugin(t)},
	}
}

// world is a cluster of fake clientsets around one Reconciler, called
// through Tekton's generated CustomRun reconciler as in production.
type world struct {
	t        testing.TB
	ctx      context.Context
	clock    *clocktesting.FakeClock
	pipeline *pipelinefake.Clientset
	kube     *kubefake.Clientset
	dynamic  *dynamicfake.FakeDynamicClient
	indexer  cache.Indexer // the informer's cache, as the lister sees it
	events   *record.FakeRecorder
	r        *Reconciler
	rec      controller.Reconciler
	ended    chan types.NamespacedName // invocations that ended
	rv       int
	// allowed are the "resource/name" the runs' service accounts may get.
	allowed []string
	// logs is what the reconciler logged, plugin logs included (nothing
	// when quiet).
	logs  *observer.ObservedLogs
	quiet bool
}

type worldOption func(*world)

// withObjects adds objects to the kube clientset (plugin ConfigMaps,
// workspace ConfigMaps and Secrets).
func withObjects(objs ...runtime.Object) worldOption {
	return func(w *world) {
		for _, o := range objs {
			if err := w.kube.Tracker().Add(o); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

// withCustomTasks adds custom task objects (kind Test) for named customRefs.
func withCustomTasks(objs ...*unstructured.Unstructured) worldOption {
	return func(w *world) {
		for _, o := range objs {
			if err := w.dynamic.Tracker().Add(o); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

// quietly discards the reconciler's logs (benchmarks: kept, they would
// count as the reconciler's memory).
func quietly(w *world) { w.quiet = true }

// allowing lets service accounts get the named "resource/name"s.
func allowing(what ...string) worldOption {
	return func(w *world) { w.allowed = append(w.allowed, what...) }
}

// newWorld starts a world whose registry has loaded every plugin
// ConfigMap among its objects.
func newWorld(t testing.TB, opts ...worldOption) *world {
	t.Helper()
	w := &world{
		t:        t,
		clock:    clocktesting.NewFakeClock(now),
		pipeline: pipelinefake.NewSimpleClientset(),
		// The service accounts runs name: runtime/access requires them.
		kube: kubefake.NewClientset(
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}},
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "builder"}}),
		dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{testGVR: "TestList"}),
		indexer: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}),
		events:  record.NewFakeRecorder(100),
		ended:   make(chan types.NamespacedName, 100),
	}
	for _, o := range opts {
		o(w)
	}
	observed, logs := observer.New(zapcore.DebugLevel)
	core := zapcore.NewTee(zaptest.NewLogger(t).Core(), observed)
	if w.quiet {
		core = zapcore.NewNopCore()
	}
	ctx, cancel := context.WithCancel(logging.WithLogger(context.Background(), zap.New(core).Sugar()))
	t.Cleanup(cancel)
	w.ctx, w.logs = ctx, logs
	w.pipeline.PrependReactor("update", "customruns", w.updateCustomRun)
	w.kube.PrependReactor("create", "subjectaccessreviews", w.review)
	disc := w.kube.Discovery().(*fakediscovery.FakeDiscovery)
	disc.Resources = []*metav1.APIResourceList{{
		GroupVersion: testAPI,
		APIResources: []metav1.APIResource{{Name: "tests", Kind: "Test", Namespaced: true, Verbs: metav1.Verbs{"get"}}},
	}}

	// The fake clientset drops objects created between an informer's list
	// and its watch: wait until the registry's watch is registered.
	watching, once := make(chan struct{}), sync.Once{}
	w.kube.PrependWatchReactor("configmaps", func(a k8stesting.Action) (bool, watch.Interface, error) {
		wi, err := w.kube.Tracker().Watch(a.GetResource(), a.GetNamespace())
		once.Do(func() { close(watching) })
		return true, wi, err
	})
	reg := registry.New(registry.Options{Engine: testEngine(t), Kube: w.kube, Namespace: systemNS,
		Recorder: record.NewFakeRecorder(100), Logger: logging.FromContext(ctx).Named("registry")})
	w.r = &Reconciler{
		Registry:    reg,
		Dispatcher:  dispatch.New(4),
		Resolver:    customtask.NewResolver(w.dynamic, w.kube, w.clock),
		Workspaces:  &workspace.Preparer{Kube: w.kube, Dir: t.TempDir()},
		Client:      w.pipeline,
		Clock:       w.clock,
		StatusDelay: statusDelay,
		Context:     ctx,
		Enqueue:     func(k types.NamespacedName) { w.ended <- k },
	}
	if err := reg.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	<-watching
	deadline := time.Now().Add(time.Minute)
	for !reg.HasSynced() {
		if time.Now().After(deadline) {
			t.Fatal("the registry did not load the plugin ConfigMaps")
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.rec = customrunreconciler.NewReconciler(ctx, logging.FromContext(ctx), w.pipeline,
		pipelinelisters.NewCustomRunLister(w.indexer), w.events, w.r, controller.Options{SkipStatusUpdates: true, DemoteFunc: w.r.Demote})
	w.r.IsLeader = w.rec.(interface {
		IsLeaderFor(types.NamespacedName) bool
	}).IsLeaderFor
	if err := w.rec.(pkgreconciler.LeaderAware).Promote(pkgreconciler.UniversalBucket(), func(pkgreconciler.Bucket, types.NamespacedName) {}); err != nil {
		t.Fatal(err)
	}
	return w
}

// updateCustomRun stores CustomRun updates as the apiserver does: a stale
// resourceVersion is a conflict, and each write gets a new one.
func (w *world) updateCustomRun(a k8stesting.Action) (bool, runtime.Object, error) {
	run := a.(k8stesting.UpdateAction).GetObject().(*v1beta1.CustomRun).DeepCopy()
	cur, err := w.pipeline.Tracker().Get(a.GetResource(), run.Namespace, run.Name)
	if err != nil {
		return true, nil, err
	}
	if got := cur.(*v1beta1.CustomRun).ResourceVersion; got != run.ResourceVersion {
		return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), run.Name, errors.New("the object has been modified"))
	}
	w.rv++
	run.ResourceVersion = strconv.Itoa(w.rv)
	if a.GetSubresource() == "status" {
		// The apiserver keeps the stored managedFields on a status write,
		// whatever the request carries (the informer's copy has them
		// trimmed).
		run.ManagedFields = cur.(*v1beta1.CustomRun).ManagedFields
	}
	return true, run, w.pipeline.Tracker().Update(a.GetResource(), run, run.Namespace)
}

// review answers SubjectAccessReviews from w.allowed.
func (w *world) review(a k8stesting.Action) (bool, runtime.Object, error) {
	sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
	ra := sar.Spec.ResourceAttributes
	for _, what := range w.allowed {
		if what == ra.Resource+"/"+ra.Name {
			sar.Status.Allowed = true
		}
	}
	return true, sar, nil
}

// create adds a CustomRun (YAML) to the cluster and the informer's cache.
func (w *world) create(s string) types.NamespacedName {
	w.t.Helper()
	run := parseRun(w.t, s)
	w.rv++
	run.ResourceVersion = strconv.Itoa(w.rv)
	if err := w.pipeline.Tracker().Add(run); err != nil {
		w.t.Fatal(err)
	}
	w.sync()
	return types.NamespacedName{Namespace: run.Namespace, Name: run.Name}
}

// patch changes a run's spec in the cluster (a user or Tekton), then lets
// the informer see it.
func (w *world) patch(key types.NamespacedName, change func(*v1beta1.CustomRun)) {
	w.t.Helper()
	run := w.get(key)
	change(run)
	if _, err := w.pipeline.TektonV1beta1().CustomRuns(key.Namespace).Update(w.ctx, run, metav1.UpdateOptions{}); err != nil {
		w.t.Fatal(err)
	}
	w.sync()
}

// sync copies the cluster's CustomRuns into the informer's cache.
func (w *world) sync() {
	w.t.Helper()
	list, err := w.pipeline.TektonV1beta1().CustomRuns("").List(w.ctx, metav1.ListOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	for i := range list.Items {
		run, _ := TrimManagedFields(&list.Items[i]) // as the controller's informer does
		if err := w.indexer.Update(run); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) get(key types.NamespacedName) *v1beta1.CustomRun {
	w.t.Helper()
	run, err := w.pipeline.TektonV1beta1().CustomRuns(key.Namespace).Get(w.ctx, key.Name, metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	return run
}

// outcome is what one reconcile did.
type outcome struct {
	requeue time.Duration // -1: none
	err     error
	writes  int      // status updates
	events  []string // "Type Reason Message"
}

// reconcile reconciles key once, lets the informer see what it wrote,
// and reports what it did.
func (w *world) reconcile(key types.NamespacedName) outcome {
	w.t.Helper()
	w.pipeline.ClearActions()
	err := w.rec.Reconcile(w.ctx, key.String())
	out := outcome{requeue: -1}
	if ok, d := controller.IsRequeueKey(err); ok {
		out.requeue = d
	} else {
		out.err = err
	}
	for _, a := range w.pipeline.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			out.writes++
		} else if a.GetVerb() != "get" {
			w.t.Errorf("unexpected %s %s/%s", a.GetVerb(), a.GetResource().Resource, a.GetSubresource())
		}
	}
	for {
		select {
		case e := <-w.events.Events:
			out.events = append(out.events, e)
			continue
		default:
		}
		break
	}
	w.sync()
	return out
}

// state is the reconciler's state of key, which must exist.
func (w *world) state(key types.NamespacedName) *runState {
	w.t.Helper()
	if !w.r.runs.Has(key) {
		w.t.Fatalf("no state for %s", key)
	}
	st, _ := w.r.runs.Get(w.ctx, key, w.get(key).UID, func(types.NamespacedName) bool { return false }, nil)
	return st
}

// pluginLog returns the lines the plugin logged so far (the controller
// logs them at debug level, as the worlds do).
func (w *world) pluginLog() []string {
	var lines []string
	for _, e := range w.logs.FilterMessage("Plugin log").All() {
		lines = append(lines, e.ContextMap()["line"].(string))
	}
	return lines
}

// invocationEnds waits for the invocation of key to end.
func (w *world) invocationEnds(key types.NamespacedName) {
	w.t.Helper()
	select {
	case got := <-w.ended:
		if got != key {
			w.t.Fatalf("the invocation of %s ended, want %s", got, key)
		}
	case <-time.After(time.Minute):
		w.t.Fatalf("the invocation of %s did not end", key)
	}
}

// expect compares an outcome with the wanted one.
func (w *world) expect(got, want outcome) {
	w.t.Helper()
	if d := cmp.Diff(want, got, cmp.AllowUnexported(outcome{}), cmp.Comparer(func(a, b error) bool {
		return (a == nil) == (b == nil) && (a == nil || a.Error() == b.Error())
	})); d != "" {
		w.t.Errorf("reconcile (-want +got):\n%s", d)
	}
}

// expectStatus compares the stored status of key with YAML.
func (w *world) expectStatus(key types.NamespacedName, want string) {
	w.t.Helper()
	var ws v1beta1.CustomRunStatus
	if err := yaml.UnmarshalStrict([]byte(want), &ws); err != nil {
		w.t.Fatalf("bad test YAML: %v\n%s", err, want)
	}
	wb, _ := yaml.Marshal(ws)
	gb, _ := yaml.Marshal(w.get(key).Status)
	if d := cmp.Diff(string(wb), string(gb)); d != "" {
		w.t.Errorf("status of %s (-want +got):\n%s", key, d)
	}
}

func parseRun(t testing.TB, s string) *v1beta1.CustomRun {
	t.Helper()
	var run v1beta1.CustomRun
	if err := yaml.UnmarshalStrict([]byte(s), &run); err != nil {
		t.Fatalf("bad test YAML: %v\n%s", err, s)
	}
	return &run
}

// ts renders the fake clock's start plus d as a YAML timestamp.
func ts(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }

// lines joins YAML lines.
func lines(s ...string) string { return strings.Join(s, "\n") }

// waitFor waits up to a minute for cond.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
