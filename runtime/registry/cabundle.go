package registry

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// caBundle reads the CA bundle p's manifest names (capabilities.http.
// caBundle: a key of a ConfigMap in the registry's namespace), or returns
// nil when it names none. It is read when the plugin is loaded: a changed
// bundle applies once the plugin's ConfigMap is applied again. Errors name
// the ConfigMap and key and say what to fix; they make the plugin broken.
func (r *Registry) caBundle(ctx context.Context, p *manifest.Manifest) ([]byte, error) {
	h := p.Capabilities.HTTP
	if h == nil || h.CABundle == nil {
		return nil, nil
	}
	ref := h.CABundle
	where := fmt.Sprintf("capabilities.http.caBundle: ConfigMap %s/%s key %q", r.opts.Namespace, ref.ConfigMap, ref.Key)
	cm, err := r.opts.Kube.CoreV1().ConfigMaps(r.opts.Namespace).Get(ctx, ref.ConfigMap, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %v; create it in the controller's namespace, or remove caBundle", where, err)
	}
	pem, ok := cm.Data[ref.Key]
	if !ok {
		return nil, fmt.Errorf("%s: the ConfigMap has no such data key", where)
	}
	if err := httpcap.CheckCABundle([]byte(pem)); err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	return []byte(pem), nil
}
