package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var digest = "sha256:" + strings.Repeat("ab", 32)

func TestParseRegistryModule(t *testing.T) {
	for _, tc := range []struct{ module, want, wantErr string }{
		{module: "oci://registry.example/plugins/wait@" + digest, want: "registry.example/plugins/wait@" + digest},
		{module: "oci://localhost:5000/wait@" + digest, want: "localhost:5000/wait@" + digest},
		{module: "oci://registry.example/plugins/wait:v1", wantErr: "names no digest; a tag can change, so pin the artifact by digest: oci://HOST/REPO@sha256:… (tkn-wasm push prints it)"},
		{module: "oci://registry.example/plugins/wait", wantErr: "names no digest"},
		{module: "oci://wait@" + digest, wantErr: "strict validation requires the registry to be explicitly defined"},
		{module: "oci://registry.example/plugins/wait@sha256:abc", wantErr: "is not oci://HOST/REPO@sha256:DIGEST"},
		{module: "oci://registry.example/Plugins/wait@" + digest, wantErr: "is not oci://HOST/REPO@sha256:DIGEST"},
		{module: "wait.wasm", wantErr: "does not start with oci://"},
	} {
		got, err := ParseRegistryModule(tc.module)
		if tc.wantErr == "" && (err != nil || got != tc.want) {
			t.Errorf("ParseRegistryModule(%q) = %q, %v; want %q", tc.module, got, err, tc.want)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("ParseRegistryModule(%q) = %q, %v; want an error containing %q", tc.module, got, err, tc.wantErr)
		}
	}
}

func TestValidateRegistryModule(t *testing.T) {
	p := Manifest{Name: "wait", APIVersion: "wait.tekton-wasm.dev/v1alpha1", Kind: "Wait", Module: "oci://registry.example/plugins/wait:v1"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `plugin "wait": module "oci://registry.example/plugins/wait:v1" names no digest`) {
		t.Errorf("Validate = %v; want the tag refused", err)
	}
	p.Module = "oci://registry.example/plugins/wait@" + digest
	if err := p.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
	if ref, ok := p.RegistryModule(); !ok || ref != "registry.example/plugins/wait@"+digest {
		t.Errorf("RegistryModule = %q, %v", ref, ok)
	}
}

// A ConfigMap naming a module in a registry is reported with its manifest
// (so that its kind is known to be broken), not as a missing binaryData
// key.
func TestFromConfigMapRegistryModule(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"}, Data: map[string]string{ManifestKey: "name: wait\napiVersion: wait.tekton-wasm.dev/v1alpha1\nkind: Wait\nmodule: oci://registry.example/plugins/wait@" + digest + "\n"}}
	p, mod, err := FromConfigMap(cm)
	if p == nil || p.Kind != "Wait" || mod != nil || !errors.Is(err, ErrRegistryModule) {
		t.Errorf("FromConfigMap = %+v, %d bytes, %v; want the manifest and ErrRegistryModule", p, len(mod), err)
	}
	cm.Data[ManifestKey] = strings.Replace(cm.Data[ManifestKey], "@"+digest, ":latest", 1)
	if p, _, err := FromConfigMap(cm); p == nil || err == nil || !strings.Contains(err.Error(), "ConfigMap ns/cm: plugin \"wait\": module \"oci://registry.example/plugins/wait:latest\" names no digest") {
		t.Errorf("FromConfigMap with a tag = %+v, %v; want the tag refused", p, err)
	}
}

func TestLoadDirRegistryModule(t *testing.T) {
	dir := t.TempDir()
	index := "plugins:\n- {name: wait, apiVersion: w.dev/v1, kind: Wait, module: 'oci://registry.example/plugins/wait@" + digest + "'}\n"
	if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); !errors.Is(err, ErrRegistryModule) {
		t.Errorf("LoadDir = %v; want ErrRegistryModule", err)
	}
}
