package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const httpManifest = "name: http\napiVersion: http.tekton-wasm.dev/v1alpha1\nkind: HTTPRequest\nmodule: http.wasm\n"

func TestCapabilities(t *testing.T) {
	good := httpManifest + `capabilities:
  http:
    allow: ["hooks.example.com", "*.example.org", "127.0.0.1:8443", "[fd00::1]:443"]
    caBundle: {configMap: corp-ca, key: ca.crt}
`
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "http"},
		Data: map[string]string{ManifestKey: good}, BinaryData: map[string][]byte{"http.wasm": module(64, true)}}
	p, _, err := FromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := p.Capabilities.HTTP.Policy([]byte("pem"), "localhost:8080")
	if err != nil || len(pol.Allow) != 5 || string(pol.CABundle) != "pem" || p.Capabilities.HTTP.CABundle.ConfigMap != "corp-ca" {
		t.Fatalf("policy %+v, %v", pol, err)
	}
	if _, err := p.Capabilities.HTTP.Policy(nil, "bad/x"); err == nil || !strings.Contains(err.Error(), `"bad/x"`) {
		t.Errorf("a bad extra entry: %v", err)
	}
	// No capabilities: none granted, and the ConfigMap tkn-wasm pack
	// writes says nothing of them.
	var none *HTTPCapability
	if pol, err := none.Policy(nil, "example.com"); err != nil || len(pol.Allow) != 1 {
		t.Errorf("extra entries without a grant: %+v, %v", pol, err)
	}
	out, err := yaml.Marshal(&Manifest{Name: "w", APIVersion: "a/v1", Kind: "K", Module: "w.wasm"})
	if err != nil || strings.Contains(string(out), "capabilities") {
		t.Errorf("a manifest without capabilities marshals as %s (%v)", out, err)
	}

	for body, want := range map[string]string{
		"capabilities: {http: {allow: [\"ok.example.com\", \"https://x.example.com/\"]}}":                                                  `plugin "http": capabilities.http.allow: http allow entry "https://x.example.com/" has a scheme or a path`,
		"capabilities: {http: {allow: [\"*\"]}}":                                                                                           `http allow entry "*" has a "*" that is not a leading "*."`,
		"capabilities: {http: {allow: [\"\"]}}":                                                                                            `http allow entry "" is empty`,
		"capabilities: {kubernetes: [{apiGroups: [tekton.dev], resources: [pipelineruns], verbs: [watch]}]}":                               `capabilities.kubernetes: rule 0: verbs entry "watch" is not a verb the host serves`,
		"capabilities: {kubernetes: [{apiGroups: [tekton.dev], resources: [pipelineruns/status], verbs: [get]}]}":                          `rule 0: resources entry "pipelineruns/status" is not a resource`,
		"capabilities: {kubernetes: [{apiGroups: [\"\"], resources: [configmaps], verbs: [get]}, {resources: [x], verbs: [get]}]}":         `rule 1: apiGroups is empty`,
		"capabilities: {kubernetes: [{apiGroups: [\"\"], resources: [configmaps], verbs: [get], resourceNames: [x]}]}":                     `unknown field "resourceNames"`,
		"capabilities: {http: {allow: [], caBundle: {configMap: Bad_Name, key: ca.crt}}}":                                                  `capabilities.http.caBundle.configMap "Bad_Name" is not a ConfigMap name`,
		"capabilities: {http: {allow: [], caBundle: {configMap: ca, key: ../x}}}":                                                          `capabilities.http.caBundle.key "../x" is not a ConfigMap key`,
		"capabilities: {http: {allow: [], proxy: x}}":                                                                                      `unknown field "proxy"`,
		fmt.Sprintf("capabilities: {http: {allow: [%s]}}", strings.TrimSuffix(strings.Repeat(`"a.example.com",`, MaxAllowEntries+1), ",")): "at most 256",
	} {
		cm.Data[ManifestKey] = httpManifest + body + "\n"
		if _, _, err := FromConfigMap(cm); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "ConfigMap ns/http") {
			t.Errorf("%s: error %v, want one naming the ConfigMap and saying %q", body, err, want)
		}
	}

	// The plugin directory form reads the same manifest.
	dir := t.TempDir()
	index := "plugins:\n- " + strings.ReplaceAll(strings.TrimSuffix(httpManifest, "\n"), "\n", "\n  ") + "\n  capabilities: {http: {allow: [\"x.example.com:0\"]}}\n"
	if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte(index), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), `"x.example.com:0" has a port`) {
		t.Errorf("LoadDir: %v", err)
	}
}

// TestKubernetesCapability: rules are read as written, and an empty list
// is a grant that survives the manifest being written out again (by
// tkn-wasm pack or embed).
func TestKubernetesCapability(t *testing.T) {
	for body, want := range map[string]int{
		"capabilities: {kubernetes: [{apiGroups: [tekton.dev], resources: [pipelineruns], verbs: [get, create, patch]}, {apiGroups: [\"*\"], resources: [\"*\"], verbs: [list]}]}": 2,
		"capabilities: {kubernetes: []}": 0,
	} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "http"},
			Data: map[string]string{ManifestKey: httpManifest + body + "\n"}, BinaryData: map[string][]byte{"http.wasm": module(64, true)}}
		p, _, err := FromConfigMap(cm)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if !p.Capabilities.GrantsKubernetes() || len(p.Capabilities.Kubernetes) != want {
			t.Fatalf("%s: rules %+v, want %d and a grant", body, p.Capabilities.Kubernetes, want)
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var again Manifest
		if err := yaml.UnmarshalStrict(out, &again); err != nil || !again.Capabilities.GrantsKubernetes() || len(again.Capabilities.Kubernetes) != want {
			t.Errorf("%s: written as %s and read back as %+v (%v)", body, out, again.Capabilities, err)
		}
	}
	var none Manifest
	if none.Capabilities.GrantsKubernetes() {
		t.Error("a manifest without capabilities grants kubernetes")
	}
}
