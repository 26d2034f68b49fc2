package manifest

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
)

// Capabilities are the host capabilities a manifest grants its plugin
// (hostabi/README.md, "Host capabilities"); none by default.
type Capabilities struct {
	// HTTP, when present, grants outbound HTTP to the hosts it allows
	// (capabilities: {http: {allow: [...]}}); `http: {allow: []}` grants
	// the capability and no host.
	HTTP *HTTPCapability `json:"http,omitempty"`
	// Kubernetes, when present, grants Kubernetes requests as the run's
	// ServiceAccount within these RBAC-shaped rules (capabilities:
	// {kubernetes: [{apiGroups, resources, verbs}]}); `kubernetes: []`
	// grants the capability and no request.
	Kubernetes []kubecap.Rule `json:"kubernetes,omitzero"`
}

// GrantsKubernetes reports whether c grants the Kubernetes capability
// (capabilities.kubernetes present, even empty).
func (c Capabilities) GrantsKubernetes() bool { return c.Kubernetes != nil }

// MaxAllowEntries caps capabilities.http.allow: each request is matched
// against every entry, and no real plugin needs more.
const MaxAllowEntries = 256

// HTTPCapability is capabilities.http.
type HTTPCapability struct {
	// Allow lists the hosts the plugin may reach, in the syntax of
	// httpcap.ParseEntry: HOST or HOST:PORT, HOST a DNS name, "*." and a
	// DNS name, an IPv4 or a bracketed IPv6 address.
	Allow []string `json:"allow"`
	// CABundle, when set, names PEM certificates the plugin's TLS
	// connections trust besides the system's roots: a key of a
	// ConfigMap in the controller's namespace.
	CABundle *ConfigMapKey `json:"caBundle,omitempty"`
}

// ConfigMapKey names one key of a ConfigMap.
type ConfigMapKey struct {
	ConfigMap string `json:"configMap"`
	Key       string `json:"key"`
}

// validate checks the capabilities of plugin name; errors name the
// setting and the bad entry.
func (c Capabilities) validate(name string) error {
	if err := kubecap.ValidateRules(c.Kubernetes); err != nil {
		return fmt.Errorf("plugin %q: capabilities.kubernetes: %w", name, err)
	}
	h := c.HTTP
	if h == nil {
		return nil
	}
	if len(h.Allow) > MaxAllowEntries {
		return fmt.Errorf("plugin %q: capabilities.http.allow has %d entries; at most %d", name, len(h.Allow), MaxAllowEntries)
	}
	if _, err := httpcap.ParseAllow(h.Allow); err != nil {
		return fmt.Errorf("plugin %q: capabilities.http.allow: %w", name, err)
	}
	if ca := h.CABundle; ca != nil {
		if errs := validation.IsDNS1123Subdomain(ca.ConfigMap); len(errs) > 0 {
			return fmt.Errorf("plugin %q: capabilities.http.caBundle.configMap %q is not a ConfigMap name: %s", name, ca.ConfigMap, strings.Join(errs, "; "))
		}
		if errs := validation.IsConfigMapKey(ca.Key); len(errs) > 0 {
			return fmt.Errorf("plugin %q: capabilities.http.caBundle.key %q is not a ConfigMap key: %s", name, ca.Key, strings.Join(errs, "; "))
		}
	}
	return nil
}

// Policy is the HTTP policy the manifest grants, with the PEM
// certificates of its CA bundle (read by the caller, which knows where
// the ConfigMap is), and extra hosts the caller allows besides the
// manifest's (tkn-wasm's --allow-host). It is meaningful for a
// validated manifest; extra entries are checked here.
func (h *HTTPCapability) Policy(caBundle []byte, extra ...string) (httpcap.Policy, error) {
	var entries []string
	if h != nil {
		entries = h.Allow
	}
	allow, err := httpcap.ParseAllow(append(append([]string(nil), entries...), extra...))
	if err != nil {
		return httpcap.Policy{}, err
	}
	return httpcap.Policy{Allow: allow, CABundle: caBundle}, nil
}
