package main

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	fakepipelineclient "github.com/tektoncd/pipeline/pkg/client/injection/client/fake"
	_ "github.com/tektoncd/pipeline/pkg/client/injection/informers/pipeline/v1beta1/customrun/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
	fakekubeclient "knative.dev/pkg/client/injection/kube/client/fake"
	"knative.dev/pkg/controller"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"
	rtesting "knative.dev/pkg/reconciler/testing"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

const (
	systemNS = "tekton-wasm"
	testAPI  = "test.tekton-wasm.dev/v1"
)

// The controller as sharedmain builds it: a run of a kind no plugin
// serves is left alone, and starts once a plugin for its kind registers.
func TestPluginRegisteredLater(t *testing.T) {
	ctx, cancel, informers := rtesting.SetupFakeContextWithCancel(t)
	defer cancel()
	kube := fakekubeclient.Get(ctx)
	watching, once := make(chan struct{}), sync.Once{}
	kube.PrependWatchReactor("configmaps", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := kube.Tracker().Watch(a.GetResource(), a.GetNamespace())
		once.Do(func() { close(watching) })
		return true, w, err
	})
	c := newWiring(options{Namespace: systemNS, WorkspaceDir: t.TempDir(), Concurrency: 2})
	impl := c.Constructor(ctx, nil)
	if err := controller.StartInformers(ctx.Done(), informers...); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- impl.RunContext(ctx, 2) }()
	defer func() {
		cancel()
		<-done
	}()
	<-watching
	waitFor(t, "the controller to be ready", c.Ready)

	runs := fakepipelineclient.Get(ctx).TektonV1beta1().CustomRuns("ns")
	run := &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r", UID: "uid-r"},
		Spec: v1beta1.CustomRunSpec{
			CustomRef: &v1beta1.TaskRef{APIVersion: testAPI, Kind: "Test"},
			Params:    v1beta1.Params{{Name: "mode", Value: *v1beta1.NewStructuredValues("echo")}},
		},
	}
	if _, err := runs.Create(ctx, run, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if r, err := runs.Get(ctx, "r", metav1.GetOptions{}); err != nil || r.Status.StartTime != nil || len(r.Status.Conditions) > 0 {
		t.Fatalf("a run of an unregistered kind was touched: %+v, %v", r.Status, err)
	}

	plugin := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: "test", Labels: map[string]string{manifest.PluginLabel: manifest.PluginLabelValue}},
		Data:       map[string]string{manifest.ManifestKey: fmt.Sprintf("name: test\napiVersion: %s\nkind: Test\nmodule: plugin.wasm\n", testAPI)},
		BinaryData: map[string][]byte{"plugin.wasm": wasmtest.GoPlugin(t, "../../runtime/reconciler/testdata/plugin")},
	}
	if _, err := kube.CoreV1().ConfigMaps(systemNS).Create(ctx, plugin, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *v1beta1.CustomRun
	waitFor(t, "the run to succeed", func() bool {
		got, _ = runs.Get(ctx, "r", metav1.GetOptions{})
		return got.IsSuccessful()
	})
	if !slices.Contains(got.Status.Results, v1beta1.CustomRunResult{Name: "attempt", Value: "1"}) {
		t.Errorf("results %v", got.Status.Results)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
