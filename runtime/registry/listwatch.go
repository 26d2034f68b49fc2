package registry

import (
	"context"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// listWatch lists and watches the plugin ConfigMaps for the registry's
// informer. The informer's first list is the registry's own list at start
// (Start, Prelist), when that succeeded: the informer starts from it and
// watches from its resourceVersion, instead of listing the same
// ConfigMaps, modules and all, a second time while the plugins load (the
// apiserver encoding them and the controller decoding them again, on the
// cores the loads need; docs/performance-cluster.md). Later lists (the
// reflector relists when it cannot resume its watch) go to the API.
type listWatch struct {
	kube      kubernetes.Interface
	namespace string
	// first returns the list at start once it is known, or nil when it
	// failed or ctx ended: the informer lists then. Called once.
	first func(ctx context.Context) *corev1.ConfigMapList
	// listed is set once first has been called.
	listed atomic.Bool
}

// newInformer returns an informer over lw, indexed by namespace as an
// informer factory's are.
func (lw *listWatch) newInformer(resync time.Duration) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(listerWatcher{&cache.ListWatch{ListWithContextFunc: lw.list, WatchFuncWithContext: lw.watch}},
		&corev1.ConfigMap{}, resync, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}

func (lw *listWatch) list(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	if !lw.listed.Swap(true) {
		if l := lw.first(ctx); l != nil {
			return l, nil
		}
	}
	opts.LabelSelector = pluginSelector
	return lw.kube.CoreV1().ConfigMaps(lw.namespace).List(ctx, opts)
}

func (lw *listWatch) watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.LabelSelector = pluginSelector
	return lw.kube.CoreV1().ConfigMaps(lw.namespace).Watch(ctx, opts)
}

// listerWatcher is lw as the informer's reflector takes it.
type listerWatcher struct{ *cache.ListWatch }

// IsWatchListSemanticsUnSupported keeps the reflector from asking for a
// watch list (client-go's WatchListClient, on by default since 1.35),
// which would stream every ConfigMap again instead of calling List.
func (listerWatcher) IsWatchListSemanticsUnSupported() bool { return true }
