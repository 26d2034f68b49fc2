package manifest

import (
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// wasmMagic starts every WebAssembly module.
const wasmMagic = "\x00asm"

// module returns a byte string with the wasm header, n bytes long, that is
// either highly compressible or not compressible at all.
func module(n int, compressible bool) []byte {
	b := make([]byte, n)
	copy(b, wasmMagic)
	if !compressible {
		r := rand.NewChaCha8([32]byte{1})
		_, _ = r.Read(b[len(wasmMagic):])
	}
	return b
}

func TestToConfigMapRaw(t *testing.T) {
	mod := module(1000, true)
	cm, err := ToConfigMap(&Manifest{Name: "wait", APIVersion: "wait.tekton-wasm.dev/v1alpha1", Kind: "Wait"}, mod, "tekton-wasm")
	if err != nil {
		t.Fatal(err)
	}
	got, err := yaml.Marshal(cm)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: v1
binaryData:
  wait.wasm: ` + "AGFzbQ" + strings.Repeat("A", 1328) + `==
data:
  plugin.yaml: |
    apiVersion: wait.tekton-wasm.dev/v1alpha1
    kind: Wait
    limits: {}
    module: wait.wasm
    name: wait
    sha256: ` + wasmmodule.Digest(mod) + `
kind: ConfigMap
metadata:
  labels:
    tekton-wasm.dev/plugin: "true"
  name: wait
  namespace: tekton-wasm
`
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("ConfigMap (-want +got):\n%s", d)
	}
}

func TestToConfigMapRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int
		wantModule string
	}{
		{"fits raw", 1 << 19, "wait.wasm"},
		{"needs zstd", 3 << 20, "wait.wasm.zst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &Manifest{Name: "wait", APIVersion: "wait.tekton-wasm.dev/v1alpha1", Kind: "Wait", Module: "build/wait.wasm.gz",
				Limits: Limits{Concurrency: 3}}
			mod := module(tc.size, true)
			cm, err := ToConfigMap(in, mod, "ns")
			if err != nil {
				t.Fatal(err)
			}
			p, got, err := FromConfigMap(cm)
			if err != nil {
				t.Fatal(err)
			}
			want := *in
			want.Module, want.SHA256 = tc.wantModule, wasmmodule.Digest(mod)
			if d := cmp.Diff(&want, p); d != "" {
				t.Errorf("manifest (-want +got):\n%s", d)
			}
			if !bytes.Equal(got, mod) {
				t.Errorf("module changed in the round trip")
			}
			if in.Module != "build/wait.wasm.gz" || in.SHA256 != "" {
				t.Errorf("ToConfigMap modified its argument: %+v", in)
			}
		})
	}
}

func TestToConfigMapRefuses(t *testing.T) {
	ok := &Manifest{Name: "wait", APIVersion: "wait.tekton-wasm.dev/v1alpha1", Kind: "Wait"}
	for _, tc := range []struct {
		name   string
		p      *Manifest
		module []byte
		want   string
	}{{
		name:   "too large even compressed",
		p:      ok,
		module: module(2<<20, false),
		want:   `plugin "wait" does not fit in a ConfigMap: 2097318 bytes raw, 2097383 bytes zstd-compressed, and the limit is 1048576 bytes; make the module smaller`,
	}, {
		name:   "not wasm",
		p:      ok,
		module: []byte("#!/bin/sh"),
		want:   `plugin "wait": the module is not a WebAssembly module (no \0asm header); build it for wasip1 (GOOS=wasip1 GOARCH=wasm, wasm32-wasi)`,
	}, {
		name:   "pin mismatch",
		p:      &Manifest{Name: "wait", APIVersion: "a/v1", Kind: "K", SHA256: strings.Repeat("0", 64)},
		module: module(10, true),
		want:   `plugin "wait": the module has sha256 `,
	}, {
		name:   "name is not a ConfigMap name",
		p:      &Manifest{Name: "Wait_Plugin", APIVersion: "a/v1", Kind: "K"},
		module: module(10, true),
		want:   `plugin name "Wait_Plugin" cannot name a ConfigMap: `,
	}, {
		name:   "missing kind",
		p:      &Manifest{Name: "wait", APIVersion: "a/v1"},
		module: module(10, true),
		want:   `plugin manifest "wait" is missing kind`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ToConfigMap(tc.p, tc.module, "ns")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestFromConfigMapErrors(t *testing.T) {
	const manifest = "name: wait\napiVersion: wait.tekton-wasm.dev/v1alpha1\nkind: Wait\nmodule: wait.wasm\n"
	mod := module(64, true)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(mod)
	_ = zw.Close()

	for _, tc := range []struct {
		name       string
		data       map[string]string
		binary     map[string][]byte
		wantErr    string
		wantKind   bool // the manifest is returned with the error
		wantModule []byte
	}{{
		name:       "gzip module by content",
		data:       map[string]string{ManifestKey: manifest},
		binary:     map[string][]byte{"wait.wasm": gz.Bytes()},
		wantKind:   true,
		wantModule: mod,
	}, {
		name:    "no manifest",
		binary:  map[string][]byte{"wait.wasm": mod},
		wantErr: `ConfigMap ns/cm has no data["plugin.yaml"]; a plugin ConfigMap needs its manifest there (tkn-wasm pack writes one)`,
	}, {
		name:    "unknown field",
		data:    map[string]string{ManifestKey: manifest + "memory: 1Gi\n"},
		wantErr: `ConfigMap ns/cm: data["plugin.yaml"] is not a plugin manifest: error unmarshaling JSON: while decoding JSON: json: unknown field "memory"`,
	}, {
		name:    "missing fields",
		data:    map[string]string{ManifestKey: "name: wait\nmodule: wait.wasm\n"},
		wantErr: `ConfigMap ns/cm: plugin manifest "wait" is missing apiVersion, kind`,
	}, {
		name:     "name not a ConfigMap name",
		data:     map[string]string{ManifestKey: strings.Replace(manifest, "name: wait", "name: stdout_flood", 1)},
		wantErr:  `ConfigMap ns/cm: plugin name "stdout_flood" cannot name a ConfigMap: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'); rename the plugin`,
		wantKind: true,
	}, {
		name:     "kind known, other fields missing",
		data:     map[string]string{ManifestKey: "apiVersion: a/v1\nkind: K\n"},
		wantErr:  `ConfigMap ns/cm: plugin manifest "" is missing name, module`,
		wantKind: true,
	}, {
		name:     "module missing",
		data:     map[string]string{ManifestKey: manifest},
		binary:   map[string][]byte{"other.wasm": mod},
		wantErr:  `ConfigMap ns/cm: the manifest names module "wait.wasm" but binaryData has only "other.wasm"`,
		wantKind: true,
	}, {
		name:     "module in data",
		data:     map[string]string{ManifestKey: manifest, "wait.wasm": "text"},
		wantErr:  `ConfigMap ns/cm: module "wait.wasm" is in data, which holds text only; put it in binaryData`,
		wantKind: true,
	}, {
		name:     "not wasm",
		data:     map[string]string{ManifestKey: manifest},
		binary:   map[string][]byte{"wait.wasm": []byte("hello")},
		wantErr:  `ConfigMap ns/cm: plugin "wait": module "wait.wasm" is not a WebAssembly module (no \0asm header); build it for wasip1 (GOOS=wasip1 GOARCH=wasm, wasm32-wasi)`,
		wantKind: true,
	}, {
		name:     "digest mismatch",
		data:     map[string]string{ManifestKey: manifest + "sha256: " + strings.Repeat("ab", 32) + "\n"},
		binary:   map[string][]byte{"wait.wasm": mod},
		wantErr:  `ConfigMap ns/cm: plugin "wait": module "wait.wasm" has sha256 ` + wasmmodule.Digest(mod) + ` but the manifest pins ` + strings.Repeat("ab", 32),
		wantKind: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"}, Data: tc.data, BinaryData: tc.binary}
			p, got, err := FromConfigMap(cm)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.wantErr {
				t.Errorf("error:\n got %s\nwant %s", gotErr, tc.wantErr)
			}
			if (p != nil) != tc.wantKind {
				t.Errorf("manifest returned = %v, want %v", p != nil, tc.wantKind)
			}
			if !bytes.Equal(got, tc.wantModule) {
				t.Errorf("module = %d bytes, want %d", len(got), len(tc.wantModule))
			}
		})
	}
}
