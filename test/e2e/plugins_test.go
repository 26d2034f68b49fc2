//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// controllerNamespace holds the controller's config and the plugin
// ConfigMaps (config/100-namespace.yaml).
const controllerNamespace = "tekton-wasm"

// Plugin directories (index.yaml and modules) the Makefile builds.
var (
	// pluginDir holds the first-party plugins (`make plugins`).
	pluginDir = filepath.Join(repoRoot, "bin", "plugins")
	// hostileDir holds plugins that misbehave on purpose (`make hostile`).
	hostileDir = filepath.Join(repoRoot, "bin", "hostile")
)

// loadPlugins reads the index of a plugin directory the Makefile builds.
func loadPlugins(dir string) ([]manifest.Manifest, error) {
	idx, err := manifest.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w (run `make plugins hostile`)", err)
	}
	return idx.Plugins, nil
}

// applyPlugin creates or replaces the plugin ConfigMap of p (its module read
// from dir) in the controller's namespace.
func applyPlugin(ctx context.Context, dir string, p manifest.Manifest) (*corev1.ConfigMap, error) {
	cm, err := pluginConfigMap(dir, p)
	if err != nil {
		return nil, err
	}
	return applyConfigMap(ctx, cm)
}

// pluginConfigMap builds the plugin ConfigMap of p, its module read from dir.
// Compressing a Go plugin takes about a second of CPU.
func pluginConfigMap(dir string, p manifest.Manifest) (*corev1.ConfigMap, error) {
	module, err := manifest.ReadModule(dir, &p)
	if err != nil {
		return nil, err
	}
	return manifest.ToConfigMap(&p, module, controllerNamespace)
}

// applyConfigMap creates cm, or replaces the ConfigMap of that name.
func applyConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	cms := kube.CoreV1().ConfigMaps(cm.Namespace)
	got, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var old *corev1.ConfigMap
		if old, err = cms.Get(ctx, cm.Name, metav1.GetOptions{}); err == nil {
			cm = cm.DeepCopy()
			cm.ResourceVersion = old.ResourceVersion
			got, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("applying ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return got, nil
}

// registerFirstParty registers every first-party plugin under its own kind.
// The registrations outlive the tests (hack/cluster.sh down removes them).
func registerFirstParty(ctx context.Context) error {
	plugins, err := loadPlugins(pluginDir)
	if err != nil {
		return err
	}
	for _, p := range plugins {
		if _, err := applyPlugin(ctx, pluginDir, p); err != nil {
			return err
		}
	}
	return nil
}

// registerTestPlugin registers the module of the first-party plugin serving
// kind under an apiVersion of t's own, <ns>.e2e.tekton-wasm.dev/v1alpha1, so
// that tests running in parallel share no registration, and unregisters it
// when t ends. It returns the apiVersion.
func registerTestPlugin(t *testing.T, ns, kind string) string {
	t.Helper()
	return registerTestPluginFrom(t, pluginDir, ns, kind)
}

// registerTestPluginFrom is registerTestPlugin for the plugin of the given
// kind in dir.
func registerTestPluginFrom(t *testing.T, dir, ns, kind string) string {
	t.Helper()
	apiVersion, _ := registerTestConfigMap(t, dir, ns, kind)
	return apiVersion
}

// registerTestConfigMap is registerTestPluginFrom, also returning the
// plugin ConfigMap it created.
func registerTestConfigMap(t *testing.T, dir, ns, kind string) (string, *corev1.ConfigMap) {
	t.Helper()
	plugins, err := loadPlugins(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plugins {
		if p.Kind == kind {
			return registerTestManifest(t, dir, ns, p)
		}
	}
	t.Fatalf("no plugin of kind %s in %s", kind, dir)
	return "", nil
}

// registerTestManifest registers the plugin of manifest p (its module read
// from dir), as a test may have changed it, under t's own name and
// apiVersion (registerTestPlugin's), and unregisters it when t ends. It
// returns the apiVersion and the plugin ConfigMap.
func registerTestManifest(t *testing.T, dir, ns string, p manifest.Manifest) (string, *corev1.ConfigMap) {
	t.Helper()
	p.Name = ns + "-" + p.Name
	p.APIVersion = ns + ".e2e.tekton-wasm.dev/v1alpha1"
	cm, err := applyPlugin(context.Background(), dir, p)
	if err != nil {
		t.Fatal(err)
	}
	unregisterAtEnd(t, cm)
	return p.APIVersion, cm
}

// unregisterAtEnd deletes the plugin ConfigMap cm when t ends.
func unregisterAtEnd(t *testing.T, cm *corev1.ConfigMap) {
	t.Cleanup(func() {
		err := kube.CoreV1().ConfigMaps(controllerNamespace).Delete(context.Background(), cm.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("unregistering plugin %s: %v", cm.Name, err)
		}
	})
}

// createCustomRun creates cr in ns and returns it.
func createCustomRun(t *testing.T, ns string, cr *v1beta1.CustomRun) *v1beta1.CustomRun {
	t.Helper()
	got, err := tekton.TektonV1beta1().CustomRuns(ns).Create(context.Background(), cr, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating CustomRun %s: %v", cr.Name, err)
	}
	return got
}

// waitDone waits until the CustomRun ns/name has a final Succeeded
// condition and returns it.
func waitDone(t *testing.T, ns, name string, timeout time.Duration) *v1beta1.CustomRun {
	t.Helper()
	var cr *v1beta1.CustomRun
	eventually(t, timeout, "CustomRun "+name+" to finish", func(ctx context.Context) (bool, error) {
		var err error
		cr, err = tekton.TektonV1beta1().CustomRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := cr.Status.GetCondition(apis.ConditionSucceeded)
		return c != nil && !c.IsUnknown(), nil
	})
	return cr
}

// wantCondition fails t unless cr ended with the given status and reason.
func wantCondition(t *testing.T, cr *v1beta1.CustomRun, status corev1.ConditionStatus, reason string) {
	t.Helper()
	c := cr.Status.GetCondition(apis.ConditionSucceeded)
	if c == nil || c.Status != status || c.Reason != reason {
		t.Fatalf("CustomRun %s: Succeeded condition = %+v, want status %s reason %s", cr.Name, c, status, reason)
	}
}

// TestFirstPartyPluginsDescribeThemselves checks that every first-party
// plugin `make plugins` builds carries its plugins/<name>/plugin.yaml as
// its embedded manifest: `tkn-wasm inspect` prints it. It needs no
// cluster; it is here because the suite's prerequisites build bin/plugins
// and bin/tkn-wasm.
func TestFirstPartyPluginsDescribeThemselves(t *testing.T) {
	t.Parallel()
	plugins, err := loadPlugins(pluginDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plugins {
		path := filepath.Join(pluginDir, p.Module)
		cmd := exec.Command(filepath.Join(repoRoot, "bin", "tkn-wasm"), "inspect", "-o", "json", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tkn-wasm inspect %s: %v: %s", path, err, stderr.String())
		}
		var inspected struct {
			Manifest      *manifest.Manifest `json:"manifest"`
			ManifestError string             `json:"manifestError"`
		}
		if err := json.Unmarshal(out, &inspected); err != nil {
			t.Fatalf("tkn-wasm inspect %s printed %s: %v", path, out, err)
		}
		if inspected.Manifest == nil {
			t.Errorf("%s carries no manifest (%s); make plugins embeds plugins/%s/plugin.yaml", path, inspected.ManifestError, p.Name)
			continue
		}
		want, _ := json.Marshal(p.Carried())
		got, _ := json.Marshal(inspected.Manifest)
		if !bytes.Equal(got, want) {
			t.Errorf("%s carries the manifest %s; want plugins/%s/plugin.yaml's, %s", path, got, p.Name, want)
		}
	}
}
