package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// A manifest may name a module in an OCI registry instead of a file or a
// binaryData key (docs/plugins.md):
//
//	module: oci://registry.example/plugins/wait@sha256:5d0e…
//
// The reference must name a registry host and pin the artifact by digest,
// so that what runs is what was reviewed: a tag alone is refused. The
// digest is the artifact's (what `tkn-wasm push` prints); sha256, if set,
// still pins the module itself.

// ModuleScheme prefixes a module in an OCI registry.
const ModuleScheme = "oci://"

// ErrRegistryModule is the error for a module in a registry where the
// reader of the manifest cannot pull it.
var ErrRegistryModule = errors.New("the module is in an OCI registry, which this runner does not pull from yet; " +
	"fetch it with tkn-wasm pull and name the file (plugin directory) or store it in binaryData (tkn-wasm pack), " +
	"or run it with tkn-wasm run --plugin oci://…")

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
