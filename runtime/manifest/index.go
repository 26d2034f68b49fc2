package manifest

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// IndexFile is the name of the index in a plugin directory.
const IndexFile = "index.yaml"

// Index is a plugin directory's index.yaml: a list of manifests whose
// module paths are relative to the directory.
//
//	plugins:
//	- name: wait
//	  apiVersion: wait.tekton-wasm.dev/v1alpha1
//	  kind: Wait
//	  module: wait.wasm
type Index struct {
	Plugins []Plugin `json:"plugins"`
}

// LoadDir reads DIR/index.yaml and validates every manifest in it; two
// manifests serving one apiVersion/kind are an error.
func LoadDir(dir string) (*Index, error) {
	path := filepath.Join(dir, IndexFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the plugin index: %w (a plugin directory needs an %s; see docs/plugins.md)", err, IndexFile)
	}
	var idx Index
	if err := yaml.UnmarshalStrict(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[[2]string]string{}
	for i := range idx.Plugins {
		p := &idx.Plugins[i]
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		key := [2]string{p.APIVersion, p.Kind}
		if other, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s: plugins %q and %q both serve %s %s; keep one", path, other, p.Name, p.APIVersion, p.Kind)
		}
		seen[key] = p.Name
	}
	return &idx, nil
}

// Find returns the manifest serving apiVersion/kind, or nil.
func (idx *Index) Find(apiVersion, kind string) *Plugin {
	for i := range idx.Plugins {
		if idx.Plugins[i].Serves(apiVersion, kind) {
			return &idx.Plugins[i]
		}
	}
	return nil
}

// ReadModule reads and decodes p's module from dir.
func ReadModule(dir string, p *Plugin) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, p.Module))
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", p.Name, err)
	}
	return p.Decode(b)
}
