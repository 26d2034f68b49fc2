package main

import (
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
)

// kubeconfigUsage is --kubeconfig's help.
const kubeconfigUsage = "`FILE`: serve the Kubernetes capability to plugins whose manifest grants it (capabilities.kubernetes), " +
	"acting as this kubeconfig's user (not as the run's serviceAccountName, as the controller does), " +
	"in the run's namespace or else the kubeconfig context's; without it their requests fail (ENOTCAPABLE)"

// capabilities are what run serves plugins: --allow-host's hosts, and
// the Kubernetes client of the kubeconfig at kubeconfig ("": none) with
// its context's namespace ("default" when it names none).
func capabilities(allowHosts []string, kubeconfig string) (local.Capabilities, error) {
	c := local.Capabilities{AllowHosts: allowHosts}
	if kubeconfig == "" {
		return c, nil
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return c, usagef("--kubeconfig %s: %v", kubeconfig, err)
	}
	if c.KubeNamespace, _, err = cc.Namespace(); err != nil {
		return c, usagef("--kubeconfig %s: %v", kubeconfig, err)
	}
	if c.Kube, err = kubecap.New(cfg); err != nil {
		return c, usagef("--kubeconfig %s: %v", kubeconfig, err)
	}
	return c, nil
}
