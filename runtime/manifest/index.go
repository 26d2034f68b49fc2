package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// IndexFile is the name of the index in a plugin directory.
const IndexFile = "index.yaml"

// Index is a plugin directory's index.yaml: a list of manifests whose
// module paths are relative to the directory, or name a module in a
// registry (RegistryModule), which the runner pulls.
//
//	plugins:
//	- name: wait
//	  apiVersion: wait.tekton-wasm.dev/v1alpha1
//	  kind: Wait
//	  module: wait.wasm
type Index struct {
	Plugins []Manifest `json:"plugins"`
}

// MaxIndexBytes caps the size of an index.yaml, which is checked before
// it is read: as much as a ConfigMap holds, far more than any index needs.
const MaxIndexBytes = MaxConfigMapBytes

// LoadDir reads DIR/index.yaml and validates every manifest in it; two
// manifests serving one apiVersion/kind are an error, and so is a module
// path that leaves DIR.
func LoadDir(dir string) (*Index, error) {
	path := filepath.Join(dir, IndexFile)
	b, err := readInDir(dir, IndexFile, MaxIndexBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the plugin index: %w (a plugin directory needs an %s; see docs/plugins.md)", err, IndexFile)
	}
	return decodeIndex(path, b)
}

// decodeIndex decodes and validates the index read from path.
func decodeIndex(path string, b []byte) (*Index, error) {
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
		if _, remote := p.RegistryModule(); !remote && !filepath.IsLocal(p.Module) {
			return nil, fmt.Errorf("%s: plugin %q: module %q is not inside the plugin directory; name it by a path relative to the directory, without ..", path, p.Name, p.Module)
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
func (idx *Index) Find(apiVersion, kind string) *Manifest {
	for i := range idx.Plugins {
		if idx.Plugins[i].Serves(apiVersion, kind) {
			return &idx.Plugins[i]
		}
	}
	return nil
}

// ReadModule reads and decodes p's module from dir; a module in a
// registry is the caller's to pull. The module is
// opened through an os.Root of dir, so neither its path nor a symbolic
// link on the way leads out of dir, and a module file over wasmmodule.MaxBytes
// is refused before it is read.
func ReadModule(dir string, p *Manifest) ([]byte, error) {
	if _, remote := p.RegistryModule(); remote {
		return nil, fmt.Errorf("plugin %q: module %q is in an OCI registry, not in %s; pull it", p.Name, p.Module, dir)
	}
	b, err := readInDir(dir, p.Module, wasmmodule.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: reading module %q: %w", p.Name, p.Module, err)
	}
	return p.Decode(b)
}

// readInDir reads the regular file name, confined to dir, if it holds at
// most limit bytes.
func readInDir(dir, name string, limit int64) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// Non-blocking, so that opening a FIFO does not wait for a writer.
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return boundedread.File(f, limit)
}
