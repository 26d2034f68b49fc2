package manifest

import (
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// A module may carry its own manifest, so that a module found on disk or
// in a registry says what it is: a custom section named SectionName
// (hostabi/README.md) whose payload is the manifest as JSON, without
// module, sha256 and pullSecrets (a module can neither name nor pin
// itself, nor say where it is pulled from). Runtimes
// ignore custom sections, so embedding one changes the module's bytes,
// and so its digest, but not its code.
const (
	// SectionName names the custom section holding a module's manifest.
	SectionName = "tekton-wasm.manifest"
	// MaxEmbeddedBytes caps the manifest a module carries: a manifest is
	// a few hundred bytes; a larger section is refused unread.
	MaxEmbeddedBytes = 64 << 10
)

// Embed returns a copy of module carrying p as its manifest section, in
// place of any it carried; p's module, sha256 and pullSecrets are left
// out. The
// digest of the result is what a manifest pinning it names.
func Embed(p *Manifest, module []byte) ([]byte, error) {
	m := p.Carried()
	if err := m.validate(false); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(&m)
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxEmbeddedBytes {
		return nil, fmt.Errorf("plugin %q: its manifest is %d bytes as JSON; a module carries at most %d", m.Name, len(payload), MaxEmbeddedBytes)
	}
	out, err := wasmmodule.SetCustomSection(module, SectionName, payload)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: embedding its manifest: %w", m.Name, err)
	}
	return out, nil
}

// Carried is p as a module or registry artifact carries it: without its
// module, sha256 and pullSecrets, which say where a module is and how to
// fetch it, not what it is.
func (p *Manifest) Carried() Manifest {
	m := *p
	m.Module, m.SHA256, m.PullSecrets = "", "", nil
	return m
}

// Embedded returns the manifest module carries (Embed), validated but for
// its module, which it does not name; nil and no error if it carries
// none. Two manifest sections, an oversized one or an invalid manifest
// are errors.
func Embedded(module []byte) (*Manifest, error) {
	found, err := wasmmodule.CustomSections(module, SectionName)
	switch {
	case err != nil:
		return nil, err
	case len(found) == 0:
		return nil, nil
	case len(found) > 1:
		return nil, fmt.Errorf("the module carries %d %q sections; embed one manifest (tkn-wasm pack --embed replaces it)", len(found), SectionName)
	case len(found[0]) > MaxEmbeddedBytes:
		return nil, fmt.Errorf("the module's %q section is %d bytes; the limit is %d", SectionName, len(found[0]), MaxEmbeddedBytes)
	}
	var p Manifest
	if err := yaml.UnmarshalStrict(found[0], &p); err != nil {
		return nil, fmt.Errorf("the module's %q section is not a plugin manifest: %w", SectionName, err)
	}
	if p.Module != "" || p.SHA256 != "" || p.PullSecrets != nil {
		return nil, fmt.Errorf("the module's %q section names a module, sha256 or pullSecrets; a module cannot name or pin itself", SectionName)
	}
	if err := p.validate(false); err != nil {
		return nil, fmt.Errorf("the module's %q section: %w", SectionName, err)
	}
	return &p, nil
}
