package reconciler

import (
	"sync"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	fakepipelineclient "github.com/tektoncd/pipeline/pkg/client/injection/client/fake"
	_ "github.com/tektoncd/pipeline/pkg/client/injection/informers/pipeline/v1beta1/customrun/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
	fakekubeclient "knative.dev/pkg/client/injection/kube/client/fake"
	"knative.dev/pkg/controller"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"
	rtesting "knative.dev/pkg/reconciler/testing"
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
	c := New(Options{Namespace: systemNS, WorkspaceDir: t.TempDir(), Concurrency: 2})
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
	if _, err := runs.Create(ctx, parseRun(t, run("r", []string{mode("echo")})), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if r, err := runs.Get(ctx, "r", metav1.GetOptions{}); err != nil || r.Status.StartTime != nil || len(r.Status.Conditions) > 0 {
		t.Fatalf("a run of an unregistered kind was touched: %+v, %v", r.Status, err)
	}

	if _, err := kube.CoreV1().ConfigMaps(systemNS).Create(ctx, pluginConfigMap(t, "test", "Test", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *v1beta1.CustomRun
	waitFor(t, "the run to succeed", func() bool {
		got, _ = runs.Get(ctx, "r", metav1.GetOptions{})
		return got.IsSuccessful()
	})
	if a := results(got)["attempt"]; a != "1" {
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
