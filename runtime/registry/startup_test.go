package registry

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
)

// startHeldInformer starts a registry over objs whose informer is held
// until the returned function is called: its first list waits until then
// and does not take the registry's list at start, but lists from the API
// (as when the list at start failed), so that it sees what changed
// meanwhile (the fake clientset's watch replays nothing).
func startHeldInformer(t *testing.T, objs ...*corev1.ConfigMap) (*world, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kube := kubefake.NewClientset()
	for _, cm := range objs {
		if _, err := kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{t: t, kube: kube, events: record.NewFakeRecorder(100), changes: make(chan Kind, 100)}
	w.registry = New(Options{Engine: newEngine(t, ""), Kube: kube, Namespace: ns, Recorder: w.events, Logger: zaptest.NewLogger(t).Sugar()})
	held := make(chan struct{})
	w.registry.lw.first = func(ctx context.Context) *corev1.ConfigMapList {
		select {
		case <-held:
		case <-ctx.Done():
		}
		return nil
	}
	if err := w.registry.Start(ctx, func(k Kind) { w.changes <- k }); err != nil {
		t.Fatal(err)
	}
	return w, func() { close(held) }
}

// settled waits until the informer has synced and the registry has
// looked at every listed ConfigMap again.
func (w *world) settled() {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.registry.mu.RLock()
		// synced: set by the list at start, or, when it failed, once the
		// informer has synced and the registry has taken its keys.
		listed, synced := w.registry.listed, w.registry.synced
		w.registry.mu.RUnlock()
		if listed == nil && synced && w.registry.queue.Len() == 0 && w.registry.informer.HasSynced() {
			// The last key taken may still be loading.
			time.Sleep(100 * time.Millisecond)
			if w.registry.queue.Len() == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatal("the registry did not settle after its informer synced")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLoadsBeforeTheInformer checks that the plugins present at start are
// loaded, and the registry synced, while its informer has not listed
// anything yet; and that the informer, once synced, changes nothing for
// a ConfigMap loaded at the same resourceVersion (no second load, no
// second Event) and removes one deleted meanwhile.
func TestLoadsBeforeTheInformer(t *testing.T) {
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	gone := Kind{waitAPI, "Gone"}
	w, release := startHeldInformer(t,
		configMap("wait", waitYAML, answer),
		configMap("gone", "name: gone\napiVersion: "+waitAPI+"\nkind: Gone\nmodule: wait.wasm\n", answer))
	for range 2 {
		select {
		case <-w.changes:
		case <-time.After(30 * time.Second):
			t.Fatal("the plugins were not loaded while the informer was held")
		}
	}
	for _, k := range []Kind{waitKind, gone} {
		if e := w.registry.Lookup(k.APIVersion, k.Kind); e == nil || e.Err != nil {
			t.Fatalf("Lookup(%s) = %+v while the informer was held; want a loaded plugin", k, e)
		}
	}
	if !w.registry.HasSynced() {
		t.Error("HasSynced is false with every ConfigMap present at start loaded")
	}
	if w.registry.informer.HasSynced() {
		t.Fatal("the informer synced while held: the test shows nothing")
	}
	loaded := []string{w.event(), w.event()}

	w.delete("gone")
	release()
	w.changed(gone)
	w.settled()
	if e := w.registry.Lookup(gone.APIVersion, gone.Kind); e != nil {
		t.Errorf("Lookup(%s) = %+v after its ConfigMap was deleted; want nil", gone, e)
	}
	if e := w.registry.Lookup(waitAPI, "Wait"); e == nil || e.Err != nil {
		t.Errorf("Lookup(Wait) = %+v after the informer synced; want the loaded plugin", e)
	}
	select {
	case e := <-w.events.Events:
		t.Errorf("an Event after the informer synced: %s (the first two: %q)", e, loaded)
	case k := <-w.changes:
		t.Errorf("a change of %s after the informer synced", k)
	default:
	}
}

// TestLoadsWhenTheListFails checks that a registry whose list at start
// fails loads the plugins as its informer delivers them, and syncs.
func TestLoadsWhenTheListFails(t *testing.T) {
	w := startWithKube(t, Options{}, func(kube *kubefake.Clientset) {
		kube.PrependReactor("list", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.(k8stesting.ListActionImpl).GetListOptions().ResourceVersion == "" {
				return true, nil, errors.New("refused")
			}
			return false, nil, nil
		})
	}, configMap("wait", waitYAML, wasmtest.WAT(t, "testdata/answer.wat")))
	w.changed(waitKind)
	w.settled()
	if !w.registry.HasSynced() {
		t.Error("HasSynced is false with the ConfigMap present at start loaded")
	}
}

// TestPrelisted checks that a registry given a list started earlier
// (Prelist) loads what it holds and does not list again.
func TestPrelisted(t *testing.T) {
	var lists atomic.Int32
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	source := kubefake.NewClientset(configMap("wait", waitYAML, answer))
	prelisted := Prelist(context.Background(), source, ns)
	w := startWithKube(t, Options{Prelisted: prelisted}, func(kube *kubefake.Clientset) {
		kube.PrependReactor("list", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.(k8stesting.ListActionImpl).GetListOptions().ResourceVersion == "" {
				lists.Add(1)
			}
			return false, nil, nil
		})
	}, configMap("wait", waitYAML, answer))
	w.changed(waitKind)
	w.settled()
	if e := w.registry.Lookup(waitAPI, "Wait"); e == nil || e.Err != nil {
		t.Fatalf("Lookup(Wait) = %+v; want the prelisted plugin loaded", e)
	}
	if n := lists.Load(); n != 0 {
		t.Errorf("the registry listed %d times; want none, given the list", n)
	}
}

// TestInformerStartsFromTheList checks that the informer takes the
// registry's list at start as its first list instead of listing the
// ConfigMaps again, that the plugin it holds is loaded once, and that the
// informer's watch then delivers what changes (a ConfigMap created, one
// deleted).
func TestInformerStartsFromTheList(t *testing.T) {
	var lists atomic.Int32
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	w := startWithKube(t, Options{}, func(kube *kubefake.Clientset) {
		kube.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
			lists.Add(1)
			return false, nil, nil
		})
	}, configMap("wait", waitYAML, answer))
	w.changed(waitKind)
	w.settled()
	if n := lists.Load(); n != 1 {
		t.Errorf("the ConfigMaps were listed %d times; want once, the informer starting from the registry's list", n)
	}
	if !w.registry.HasSynced() {
		t.Error("HasSynced is false with the ConfigMap present at start loaded")
	}
	w.event() // the one load's
	added := Kind{waitAPI, "Added"}
	w.apply(configMap("added", "name: added\napiVersion: "+waitAPI+"\nkind: Added\nmodule: wait.wasm\n", answer))
	w.changed(added)
	if e := w.registry.Lookup(added.APIVersion, added.Kind); e == nil || e.Err != nil {
		t.Errorf("Lookup(%s) = %+v after its ConfigMap was created; want the watched plugin loaded", added, e)
	}
	w.delete("wait")
	w.changed(waitKind)
	if e := w.registry.Lookup(waitAPI, "Wait"); e != nil {
		t.Errorf("Lookup(Wait) = %+v after its ConfigMap was deleted; want nil", e)
	}
	select {
	case k := <-w.changes:
		t.Errorf("a change of %s besides the created plugin's", k)
	default:
	}
}

// TestLoadsSmallestFirst checks that the ConfigMaps present at start are
// loaded smallest first, whatever their names: a small module does not
// wait behind a large one.
func TestLoadsSmallestFirst(t *testing.T) {
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	small, large := Kind{waitAPI, "Small"}, Kind{waitAPI, "Large"}
	w := startWithKube(t, Options{Workers: 1},
		nil,
		configMap("a-large", "name: a-large\napiVersion: "+waitAPI+"\nkind: Large\nmodule: wait.wasm\n# "+strings.Repeat("x", 64<<10)+"\n", answer),
		configMap("z-small", "name: z-small\napiVersion: "+waitAPI+"\nkind: Small\nmodule: wait.wasm\n", answer))
	for _, want := range []Kind{small, large} {
		select {
		case k := <-w.changes:
			if k != want {
				t.Fatalf("%s loaded first; want %s, the smaller ConfigMap, before %s", k, small, large)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no change of %s reported", want)
		}
	}
}
