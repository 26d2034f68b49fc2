package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

const emptyModule = "\x00asm\x01\x00\x00\x00"

func TestEmbedRoundTrip(t *testing.T) {
	mem := resource.MustParse("128Mi")
	p := &Manifest{Name: "wait", APIVersion: "wait.tekton-wasm.dev/v1alpha1", Kind: "Wait", Module: "wait.wasm", SHA256: strings.Repeat("0", 64),
		Limits: Limits{Memory: &mem, Concurrency: 2}}
	wasm, err := Embed(p, []byte(emptyModule))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Embedded(wasm)
	if err != nil {
		t.Fatal(err)
	}
	want := *p
	want.Module, want.SHA256 = "", ""
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Embedded (-want +got):\n%s", diff)
	}
	// Embedding again replaces the manifest.
	p.Kind = "Other"
	if wasm, err = Embed(p, wasm); err != nil {
		t.Fatal(err)
	}
	if got, err := Embedded(wasm); err != nil || got.Kind != "Other" {
		t.Errorf("Embedded after a second Embed = %+v, %v; want kind Other", got, err)
	}
	if got, err := Embedded([]byte(emptyModule)); got != nil || err != nil {
		t.Errorf("Embedded of a module without a manifest = %v, %v; want nil, nil", got, err)
	}
}

func TestEmbedRefusesAnInvalidManifest(t *testing.T) {
	if _, err := Embed(&Manifest{Name: "Wait!", APIVersion: "a/v1", Kind: "K"}, []byte(emptyModule)); err == nil || !strings.Contains(err.Error(), "cannot name a ConfigMap") {
		t.Errorf("Embed = %v; want the name refused", err)
	}
	if _, err := Embed(&Manifest{Name: "w", Kind: "K"}, []byte(emptyModule)); err == nil || !strings.Contains(err.Error(), "missing apiVersion") {
		t.Errorf("Embed = %v; want apiVersion missing", err)
	}
}

func TestEmbeddedRefuses(t *testing.T) {
	section := func(payload string) []byte {
		b, err := wasmmodule.SetCustomSection([]byte(emptyModule), SectionName, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := `{"name":"w","apiVersion":"a/v1","kind":"K"}`
	two := append(section(good), section(good)[len(emptyModule):]...)
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"two sections", two, `carries 2 "tekton-wasm.manifest" sections`},
		{"not a manifest", section("{"), "is not a plugin manifest"},
		{"unknown field", section(`{"name":"w","apiVersion":"a/v1","kind":"K","extra":1}`), `unknown field "extra"`},
		{"names a module", section(`{"name":"w","apiVersion":"a/v1","kind":"K","module":"x.wasm"}`), "cannot name or pin itself"},
		{"invalid", section(`{"name":"w","apiVersion":"a/v1"}`), "missing kind"},
		{"oversized", section(good + strings.Repeat(" ", MaxEmbeddedBytes)), "the limit is 65536"},
		{"malformed module", []byte(emptyModule + "\x00\x09"), "the module is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := Embedded(tc.wasm); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Embedded = %+v, %v; want an error containing %q", p, err, tc.want)
			}
		})
	}
}
