package manifest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// A ConfigMap naming a module in a registry gives its manifest and no
// module, for the caller to pull, not a missing binaryData key.
func TestFromConfigMapRegistryModule(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"}, Data: map[string]string{ManifestKey: "name: wait\napiVersion: wait.tekton-wasm.dev/v1alpha1\nkind: Wait\nmodule: oci://registry.example/plugins/wait@" + digest + "\npullSecrets: [registry-example]\n"}}
	p, mod, err := FromConfigMap(cm)
	if p == nil || p.Kind != "Wait" || mod != nil || err != nil || !slices.Equal(p.PullSecrets, []string{"registry-example"}) {
		t.Errorf("FromConfigMap = %+v, %d bytes, %v; want the manifest with its pullSecrets and no module", p, len(mod), err)
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
	idx, err := LoadDir(dir)
	if err != nil || idx.Find("w.dev/v1", "Wait") == nil {
		t.Fatalf("LoadDir = %+v, %v; want the plugin in a registry", idx, err)
	}
	if _, err := ReadModule(dir, idx.Find("w.dev/v1", "Wait")); err == nil || !strings.Contains(err.Error(), "is in an OCI registry") {
		t.Errorf("ReadModule = %v; want the registry module refused", err)
	}
}

func TestValidatePullSecrets(t *testing.T) {
	oci := "oci://registry.example/plugins/wait@" + digest
	many := make([]string, MaxPullSecrets+1)
	for i := range many {
		many[i] = "s" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		module  string
		secrets []string
		wantErr string
	}{
		{module: oci, secrets: []string{"a", "b.c"}},
		{module: oci, secrets: many[:MaxPullSecrets]},
		{module: oci, secrets: many, wantErr: "pullSecrets names 9 Secrets; the limit is 8"},
		{module: "wait.wasm", secrets: []string{"a"}, wantErr: "pullSecrets apply to a module in an OCI registry"},
		{module: oci, secrets: []string{"Not_A_Name"}, wantErr: `pullSecrets[0] "Not_A_Name" is not a Secret name`},
		{module: oci, secrets: []string{""}, wantErr: `pullSecrets[0] "" is not a Secret name`},
		{module: oci, secrets: []string{"a", "a"}, wantErr: `pullSecrets names "a" twice`},
	} {
		p := Manifest{Name: "wait", APIVersion: "w.dev/v1", Kind: "Wait", Module: tc.module, PullSecrets: tc.secrets}
		err := p.Validate()
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("Validate(module %s, pullSecrets %q) = %v; want %q", tc.module, tc.secrets, err, tc.wantErr)
		}
	}
}

// pullSecrets say how to fetch a module, not what it is: a module does
// not carry them.
func TestEmbedLeavesOutPullSecrets(t *testing.T) {
	p := &Manifest{Name: "wait", APIVersion: "w.dev/v1", Kind: "Wait", Module: "oci://registry.example/plugins/wait@" + digest, PullSecrets: []string{"a"}}
	out, err := Embed(p, []byte("\x00asm\x01\x00\x00\x00"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Embedded(out)
	if err != nil || got.PullSecrets != nil || got.Module != "" {
		t.Errorf("Embedded = %+v, %v; want the manifest without module and pullSecrets", got, err)
	}
}
