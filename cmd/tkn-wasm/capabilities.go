package main

import (
	"fmt"
	"io"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// allowHostSetting is what an HTTP denial under tkn-wasm run tells the
// user to change.
const allowHostSetting = "--allow-host or " + httpcap.DefaultSetting

// capabilityFlags are run's flags that serve host capabilities.
type capabilityFlags struct {
	// allowHosts are --allow-host's entries.
	allowHosts []string
	// kube is the client of --kubeconfig's user, and namespace its
	// context's namespace; nil without --kubeconfig.
	kube      *kubecap.Client
	namespace string
}

// kubeconfigUsage is --kubeconfig's help.
const kubeconfigUsage = "`FILE`: serve the Kubernetes capability to plugins whose manifest grants it (capabilities.kubernetes), " +
	"acting as this kubeconfig's user (not as the run's serviceAccountName, as the controller does), " +
	"in the run's namespace or else the kubeconfig context's; without it their requests fail (ENOTCAPABLE)"

// loadKubeconfig is the Kubernetes client of the kubeconfig at path, and
// its context's namespace ("default" when it names none); nil for "".
func loadKubeconfig(path string) (*kubecap.Client, string, error) {
	if path == "" {
		return nil, "", nil
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", usagef("--kubeconfig %s: %v", path, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", usagef("--kubeconfig %s: %v", path, err)
	}
	c, err := kubecap.New(cfg)
	if err != nil {
		return nil, "", usagef("--kubeconfig %s: %v", path, err)
	}
	return c, ns, nil
}

// grant sets on r the host capabilities run serves plugin p, and
// returns what p's module may import: HTTP if its manifest grants it
// (capabilities.http) or --allow-host adds hosts, with a client allowing
// the manifest's hosts and those; Kubernetes if its manifest grants it,
// served only with --kubeconfig. A CA bundle the manifest names lives in
// a ConfigMap, which there is no cluster to read from: run says so on
// stderr and trusts the system's roots only. A Kubernetes grant without
// --kubeconfig is said on stderr too.
func (f capabilityFlags) grant(p *manifest.Manifest, r *local.Runner, stderr io.Writer) (engine.Grants, error) {
	var g engine.Grants
	if p.Capabilities.GrantsKubernetes() {
		g.Kubernetes = true
		if f.kube == nil {
			fmt.Fprintf(stderr, "tkn-wasm: plugin %q may make Kubernetes requests (capabilities.kubernetes); they fail unless --kubeconfig names a cluster and user to make them as\n", p.Name)
		} else {
			r.Kubernetes, r.KubernetesRules, r.KubernetesNamespace = f.kube, p.Capabilities.Kubernetes, f.namespace
		}
	}
	h := p.Capabilities.HTTP
	if h == nil && len(f.allowHosts) == 0 {
		return g, nil
	}
	if h != nil && h.CABundle != nil {
		fmt.Fprintf(stderr, "tkn-wasm: plugin %q trusts the CA bundle in ConfigMap %s key %s in a cluster; here its TLS connections trust the system's roots only\n",
			p.Name, h.CABundle.ConfigMap, h.CABundle.Key)
	}
	policy, err := h.Policy(nil, f.allowHosts...)
	if err != nil {
		return engine.Grants{}, usagef("--allow-host: %v", err)
	}
	if r.HTTP, err = httpcap.New(policy, httpcap.Options{Setting: allowHostSetting}); err != nil {
		return engine.Grants{}, err
	}
	g.HTTP = true
	return g, nil
}
