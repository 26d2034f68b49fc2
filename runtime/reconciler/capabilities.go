package reconciler

import (
	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// httpClient is the HTTP capability of one invocation of plugin p: a
// client under the policy of p's manifest (capabilities.http), counting
// its requests in tekton_wasm.capability.calls, or nil when the manifest
// grants none. A client is made per invocation (its idle connections are
// closed after it), so a changed manifest applies from the next call.
//
// Not yet served: the CA bundle a manifest may name (caBundle, a
// ConfigMap key) is not read, so TLS trusts the system's roots only and
// a server whose certificate only that bundle vouches for fails the
// request (EIO), never succeeds unverified.
func (r *Reconciler) httpClient(p *manifest.Manifest) (*httpcap.Client, error) {
	h := p.Capabilities.HTTP
	if h == nil {
		return nil, nil
	}
	policy, err := h.Policy(nil)
	if err != nil {
		return nil, err
	}
	return httpcap.New(policy, httpcap.Options{Observe: func(errno hostabi.Errno) {
		r.Metrics.CapabilityCalled(r.Context, p.Name, string(hostabi.CapabilityHTTP), errno.String())
	}})
}
