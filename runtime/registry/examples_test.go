package registry

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// The plugin ConfigMaps shipped in config/plugins load, compile, and
// carry the manifest of their plugin's source directory.
func TestShippedPluginConfigMaps(t *testing.T) {
	files, err := filepath.Glob("../../config/plugins/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no plugin ConfigMaps in config/plugins (%v)", err)
	}
	eng, err := engine.New(context.Background(), engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var cm corev1.ConfigMap
			if err := yaml.UnmarshalStrict(b, &cm); err != nil {
				t.Fatal(err)
			}
			if cm.Labels[manifest.PluginLabel] != manifest.PluginLabelValue || cm.Namespace != "tekton-wasm" {
				t.Errorf("labels %v, namespace %q: not picked up by the controller of config/", cm.Labels, cm.Namespace)
			}
			p, module, err := manifest.FromConfigMap(&cm)
			if err != nil {
				t.Fatal(err)
			}
			h, err := eng.Compile(context.Background(), module, engine.Limits{MemoryBytes: p.Limits.MemoryBytes()})
			if err != nil {
				t.Fatal(err)
			}
			_ = h.Close(context.Background())

			src, err := os.ReadFile(filepath.Join("../../plugins", p.Name, "plugin.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var want manifest.Manifest
			if err := yaml.UnmarshalStrict(src, &want); err != nil {
				t.Fatal(err)
			}
			got := *p
			got.Module, got.SHA256 = want.Module, want.SHA256
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s differs from plugins/%s/plugin.yaml (-source +ConfigMap):\n%s", f, p.Name, d)
			}
		})
	}
}
