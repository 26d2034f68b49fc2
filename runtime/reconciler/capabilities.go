package reconciler

import (
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/access"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/registry"
)

// httpClient is the HTTP capability of one invocation of the plugin of
// e: a client under the policy of its manifest (capabilities.http) and
// its CA bundle, counting its requests in tekton_wasm.capability.calls,
// or nil when the manifest grants none. A client is made per invocation
// (its idle connections are closed after it), so a changed manifest
// applies from the next call.
func (r *Reconciler) httpClient(e *registry.Entry) (*httpcap.Client, error) {
	p := e.Manifest
	h := p.Capabilities.HTTP
	if h == nil {
		return nil, nil
	}
	policy, err := h.Policy(e.CABundle)
	if err != nil {
		return nil, err
	}
	return httpcap.New(policy, httpcap.Options{Observe: func(errno hostabi.Errno) {
		r.Metrics.CapabilityCalled(r.Context, p.Name, string(hostabi.CapabilityHTTP), errno.String())
	}})
}

// kubernetesSession is the Kubernetes capability of one invocation of
// the plugin of e for run: its manifest's rules, acting as the run's
// ServiceAccount in its namespace, counting its requests in
// tekton_wasm.capability.calls; nil when the manifest grants none.
func (r *Reconciler) kubernetesSession(e *registry.Entry, run *v1beta1.CustomRun) *kubecap.Session {
	p := e.Manifest
	if !p.Capabilities.GrantsKubernetes() || r.Kubernetes == nil {
		return nil
	}
	sa := run.Spec.ServiceAccountName
	if sa == "" {
		sa = access.DefaultServiceAccount
	}
	return r.Kubernetes.Session(p.Capabilities.Kubernetes, kubecap.Identity{Namespace: run.Namespace, ServiceAccount: sa}, kubecap.Options{
		Observe: func(errno hostabi.Errno) {
			r.Metrics.CapabilityCalled(r.Context, p.Name, string(hostabi.CapabilityKubernetes), errno.String())
		},
	})
}
