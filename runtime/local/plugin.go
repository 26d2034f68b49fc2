package local

import (
	"fmt"
	"io"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"
)

// What tkn-wasm's commands share to run a plugin locally: run (a
// CustomRun, or a PipelineRun's CustomRuns) and test (a plugin's test
// cases) read a CustomRun, grant the plugin its capabilities and set up
// the Runner the same way, here.

// AllowHostSetting is what an HTTP denial under tkn-wasm tells the user
// to change.
const AllowHostSetting = "--allow-host or " + httpcap.DefaultSetting

// Capabilities are what a local run serves plugins besides what their
// manifests say: AllowHosts adds hosts to every plugin's HTTP allow list
// (--allow-host), and Kube, a kubeconfig user's client (--kubeconfig),
// serves the Kubernetes capability to plugins granted it, acting as that
// user in the run's namespace or, for a run that names none,
// KubeNamespace. The zero value adds nothing and serves no Kubernetes.
type Capabilities struct {
	AllowHosts    []string
	Kube          *kubecap.Client
	KubeNamespace string
}

// Grant is what a local run serves plugin p: HTTP if its manifest grants
// it (capabilities.http) or AllowHosts adds hosts, with a client allowing
// the manifest's hosts and those; Kubernetes under the manifest's rules if
// it grants it (capabilities.kubernetes) and c has a client. It returns
// what p's module may import, and what a Runner of p serves. A CA bundle
// the manifest names lives in a ConfigMap, which there is no cluster to
// read from, and a Kubernetes grant without a client fails every request
// (ENOTCAPABLE): a line on warn says each. The error is about AllowHosts.
func (c Capabilities) Grant(p *manifest.Manifest, warn io.Writer) (engine.Grants, Served, error) {
	var g engine.Grants
	var s Served
	if p.Capabilities.GrantsKubernetes() {
		g.Kubernetes = true
		if c.Kube == nil {
			fmt.Fprintf(warn, "tkn-wasm: plugin %q may make Kubernetes requests (capabilities.kubernetes); they fail unless --kubeconfig names a cluster and user to make them as\n", p.Name)
		} else {
			s.Kubernetes, s.KubernetesRules, s.KubernetesNamespace = c.Kube, p.Capabilities.Kubernetes, c.KubeNamespace
		}
	}
	h := p.Capabilities.HTTP
	if h == nil && len(c.AllowHosts) == 0 {
		return g, s, nil
	}
	if h != nil && h.CABundle != nil {
		fmt.Fprintf(warn, "tkn-wasm: plugin %q trusts the CA bundle in ConfigMap %s key %s in a cluster; here its TLS connections trust the system's roots only\n",
			p.Name, h.CABundle.ConfigMap, h.CABundle.Key)
	}
	policy, err := h.Policy(nil, c.AllowHosts...)
	if err != nil {
		return engine.Grants{}, Served{}, fmt.Errorf("--allow-host: %w", err)
	}
	if s.HTTP, err = httpcap.New(policy, httpcap.Options{Setting: AllowHostSetting}); err != nil {
		return engine.Grants{}, Served{}, err
	}
	g.HTTP = true
	return g, s, nil
}

// NewRunner is the Runner of plugin p, compiled: its manifest's default
// timeout and clean-up grace period on the real clock, the plugin's log
// to log, workspaces from ws, serving what served holds.
func NewRunner(p *manifest.Manifest, compiled *engine.CompiledPlugin, served Served, log io.Writer, ws workspace.Source) *Runner {
	return &Runner{
		Machine:    &lifecycle.Machine{Clock: clock.RealClock{}, DefaultTimeout: p.Limits.DefaultTimeout(), CleanupGrace: p.Limits.CleanupGrace()},
		Plugin:     compiled,
		Log:        log,
		Workspaces: ws,
		Served:     served,
	}
}

// ParseCustomRun reads the CustomRun document b (YAML or JSON) read from
// file: it must be a tekton.dev/v1beta1 CustomRun with a name (a
// generateName stands for one).
func ParseCustomRun(file string, b []byte) (*v1beta1.CustomRun, error) {
	var cr v1beta1.CustomRun
	if err := yaml.UnmarshalStrict(b, &cr); err != nil {
		return nil, fmt.Errorf("%s is not a valid CustomRun: %w", file, err)
	}
	if cr.APIVersion != "tekton.dev/v1beta1" || cr.Kind != "CustomRun" {
		return nil, fmt.Errorf("%s is a %q %q, not a CustomRun; it needs apiVersion: tekton.dev/v1beta1 and kind: CustomRun", file, cr.APIVersion, cr.Kind)
	}
	if cr.Name == "" {
		cr.Name = strings.TrimSuffix(cr.GenerateName, "-")
	}
	if cr.Name == "" {
		return nil, fmt.Errorf("%s: the CustomRun has no metadata.name", file)
	}
	return &cr, nil
}

// SetParam sets the string param name of cr to value, replacing one of
// that name or adding it (--param name=value).
func SetParam(cr *v1beta1.CustomRun, name, value string) {
	p := v1beta1.Param{Name: name, Value: *v1beta1.NewStructuredValues(value)}
	for i := range cr.Spec.Params {
		if cr.Spec.Params[i].Name == name {
			cr.Spec.Params[i] = p
			return
		}
	}
	cr.Spec.Params = append(cr.Spec.Params, p)
}
