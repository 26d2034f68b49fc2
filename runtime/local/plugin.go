package local

import (
	"fmt"
	"io"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
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

// HTTPCapability is what a local run grants the plugin p: the HTTP
// capability if its manifest grants it (capabilities.http) or allowHosts
// adds hosts (--allow-host), with a client allowing the manifest's hosts
// and those. The client is nil when nothing is granted. A CA bundle the
// manifest names lives in a ConfigMap, which there is no cluster to read
// from: a line on warn says so, and the client trusts the system's roots
// only. The error is about allowHosts.
func HTTPCapability(p *manifest.Manifest, allowHosts []string, warn io.Writer) (engine.Grants, *httpcap.Client, error) {
	h := p.Capabilities.HTTP
	if h == nil && len(allowHosts) == 0 {
		return engine.Grants{}, nil, nil
	}
	if h != nil && h.CABundle != nil {
		fmt.Fprintf(warn, "tkn-wasm: plugin %q trusts the CA bundle in ConfigMap %s key %s in a cluster; here its TLS connections trust the system's roots only\n",
			p.Name, h.CABundle.ConfigMap, h.CABundle.Key)
	}
	policy, err := h.Policy(nil, allowHosts...)
	if err != nil {
		return engine.Grants{}, nil, fmt.Errorf("--allow-host: %w", err)
	}
	client, err := httpcap.New(policy, httpcap.Options{Setting: AllowHostSetting})
	if err != nil {
		return engine.Grants{}, nil, err
	}
	return engine.Grants{HTTP: true}, client, nil
}

// NewRunner is the Runner of plugin p, compiled: its manifest's default
// timeout and clean-up grace period on the real clock, the plugin's log
// to log, workspaces from ws, HTTP (nil: none) serving its HTTP
// capability.
func NewRunner(p *manifest.Manifest, compiled *engine.CompiledPlugin, http *httpcap.Client, log io.Writer, ws workspace.Source) *Runner {
	return &Runner{
		Machine:    &lifecycle.Machine{Clock: clock.RealClock{}, DefaultTimeout: p.Limits.DefaultTimeout(), CleanupGrace: p.Limits.CleanupGrace()},
		Plugin:     compiled,
		Log:        log,
		Workspaces: ws,
		HTTP:       http,
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
