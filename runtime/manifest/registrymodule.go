package manifest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/util/validation"
)

// A manifest may name a module in an OCI registry instead of a file or a
// binaryData key (docs/plugins.md):
//
//	module: oci://registry.example/plugins/wait@sha256:5d0e…
//
// The reference must name a registry host and pin the artifact by digest,
// so that what runs is what was reviewed: a tag alone is refused. The
// digest is the artifact's (what `tkn-wasm push` prints); sha256, if set,
// still pins the module itself. pullSecrets name the Secrets whose
// credentials the controller pulls with:
//
//	module: oci://registry.example/plugins/wait@sha256:5d0e…
//	pullSecrets: [registry-example]

// ModuleScheme prefixes a module in an OCI registry.
const ModuleScheme = "oci://"

// MaxPullSecrets caps a manifest's pullSecrets: each is read from the
// apiserver whenever the plugin is loaded, and a registry needs one.
const MaxPullSecrets = 8

// RegistryModule returns the artifact p's module names, as
// HOST/REPO@sha256:…, and whether it names one. It is meaningful for
// validated manifests only (Validate).
func (p *Manifest) RegistryModule() (string, bool) {
	ref, ok := strings.CutPrefix(p.Module, ModuleScheme)
	return ref, ok
}

// ParseRegistryModule checks module, oci://HOST/REPO@sha256:HEX, and
// returns the artifact reference it names, HOST/REPO@sha256:HEX.
func ParseRegistryModule(module string) (string, error) {
	ref, ok := strings.CutPrefix(module, ModuleScheme)
	if !ok {
		return "", fmt.Errorf("module %q does not start with %s", module, ModuleScheme)
	}
	if !strings.Contains(ref, "@") {
		return "", fmt.Errorf("module %q names no digest; a tag can change, so pin the artifact by digest: %sHOST/REPO@sha256:… (tkn-wasm push prints it)", module, ModuleScheme)
	}
	d, err := name.NewDigest(ref, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("module %q is not %sHOST/REPO@sha256:DIGEST: %v", module, ModuleScheme, err)
	}
	return d.String(), nil
}

// validatePullSecrets checks p's pullSecrets: Secret names, each once, at
// most MaxPullSecrets, and only for a module in a registry.
func (p *Manifest) validatePullSecrets() error {
	if len(p.PullSecrets) == 0 {
		return nil
	}
	if _, remote := p.RegistryModule(); !remote {
		return fmt.Errorf("plugin %q: pullSecrets apply to a module in an OCI registry (module: %sHOST/REPO@sha256:…) only; remove them", p.Name, ModuleScheme)
	}
	if len(p.PullSecrets) > MaxPullSecrets {
		return fmt.Errorf("plugin %q: pullSecrets names %d Secrets; the limit is %d", p.Name, len(p.PullSecrets), MaxPullSecrets)
	}
	for i, s := range p.PullSecrets {
		if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
			return fmt.Errorf("plugin %q: pullSecrets[%d] %q is not a Secret name: %s", p.Name, i, s, strings.Join(errs, "; "))
		}
		if slices.Contains(p.PullSecrets[:i], s) {
			return fmt.Errorf("plugin %q: pullSecrets names %q twice", p.Name, s)
		}
	}
	return nil
}
