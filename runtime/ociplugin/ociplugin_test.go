package ociplugin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// module is the smallest module; Push embeds the manifest into it.
var module = []byte("\x00asm\x01\x00\x00\x00")

var plugin = &manifest.Manifest{Name: "wait", APIVersion: "wait.tekton-wasm.dev/v1alpha1", Kind: "Wait", Limits: manifest.Limits{Concurrency: 2}}

// noDockerConfig points the default keychain at an empty docker config.
func noDockerConfig(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
}

// newRegistry serves go-containerregistry's registry, through wrap if
// given, and returns its host:port.
func newRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPushPull(t *testing.T) {
	noDockerConfig(t)
	host := newRegistry(t, nil)
	c := &Client{}
	ctx := context.Background()
	pushed, err := c.Push(ctx, host+"/plugins/wait:v1", plugin, module)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pushed.String(), host+"/plugins/wait@sha256:") {
		t.Errorf("Push = %s; want %s/plugins/wait@sha256:…", pushed, host)
	}
	// Pushing the same module and manifest again gives the same digest.
	if again, err := c.Push(ctx, host+"/plugins/wait:v2", plugin, module); err != nil || again != pushed {
		t.Errorf("second Push = %s, %v; want %s", again, err, pushed)
	}

	for _, ref := range []string{pushed.String(), host + "/plugins/wait:v1"} {
		a, err := c.Pull(ctx, ref)
		if err != nil {
			t.Fatalf("Pull(%s): %v", ref, err)
		}
		if a.Ref != pushed {
			t.Errorf("Pull(%s).Ref = %s; want %s", ref, a.Ref, pushed)
		}
		want := *plugin
		if diff := cmp.Diff(&want, a.Manifest); diff != "" {
			t.Errorf("Pull(%s).Manifest (-want +got):\n%s", ref, diff)
		}
		if embedded, _ := manifest.Embed(plugin, module); !bytes.Equal(a.Module, embedded) {
			t.Errorf("Pull(%s).Module = %q; want the module with its manifest embedded", ref, a.Module)
		}
		var annotated manifest.Manifest
		if err := json.Unmarshal([]byte(a.Annotations[ManifestAnnotation]), &annotated); err != nil || annotated.Kind != "Wait" {
			t.Errorf("annotation %s = %q (%v); want the manifest", ManifestAnnotation, a.Annotations[ManifestAnnotation], err)
		}
	}

	// The layout: the CNCF wasm artifact's.
	desc, err := remote.Get(pushed)
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != ConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != LayerMediaType {
		t.Errorf("manifest %s; want an OCI manifest, config %s, one layer %s", desc.Manifest, ConfigMediaType, LayerMediaType)
	}
	img, _ := desc.Image()
	config, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"created":"1970-01-01T00:00:00Z","architecture":"wasm","os":"wasip1","layerDigests":["` + m.Layers[0].Digest.String() + `"]}`; string(config) != want {
		t.Errorf("config %s; want %s", config, want)
	}
}

func TestPushRefuses(t *testing.T) {
	noDockerConfig(t)
	c := &Client{}
	for _, tc := range []struct {
		name, ref string
		p         *manifest.Manifest
		module    []byte
		want      string
	}{
		{"bad reference", "Not A Ref", plugin, module, "is not an image reference"},
		{"not wasm", "127.0.0.1:1/plugins/p:v1", plugin, []byte("#!/bin/sh"), "not a WebAssembly module"},
		{"invalid manifest", "127.0.0.1:1/plugins/p:v1", &manifest.Manifest{Name: "w", Kind: "K"}, module, "missing apiVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Push(context.Background(), tc.ref, tc.p, tc.module); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Push = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

// rawManifest is a manifest put into a registry as is.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// putArtifact writes blobs and a manifest naming config and layers as
// given, and returns its reference by tag.
func putArtifact(t *testing.T, host, configMT string, layers []v1.Descriptor, blobs ...[]byte) string {
	t.Helper()
	repo, err := name.NewRepository(host + "/plugins/hostile")
	if err != nil {
		t.Fatal(err)
	}
	config := static.NewLayer([]byte("{}"), types.MediaType(configMT))
	for _, b := range append(blobs, []byte("{}")) {
		if err := remote.WriteLayer(repo, static.NewLayer(b, "application/octet-stream")); err != nil {
			t.Fatal(err)
		}
	}
	cd, _ := config.Digest()
	m, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.MediaType(configMT), Size: 2, Digest: cd}, Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	ref := repo.Tag("v1")
	if err := remote.Put(ref, rawManifest(m)); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

func layerOf(b []byte, mt types.MediaType) v1.Descriptor {
	h, n, _ := v1.SHA256(bytes.NewReader(b))
	return v1.Descriptor{MediaType: mt, Size: n, Digest: h}
}

// Artifacts in the layout of the tools before the CNCF one (wasm-to-oci,
// oci-distribution, Kubewarden: config v1, layer
// vnd.wasm.content.layer.v1+wasm), or mixing it with the CNCF one, pull.
func TestPullOtherToolsLayouts(t *testing.T) {
	noDockerConfig(t)
	host := newRegistry(t, nil)
	c := &Client{}
	for _, tc := range []struct {
		config, layer types.MediaType
	}{
		{LegacyConfigMediaType, LegacyLayerMediaType},
		{ConfigMediaType, LegacyLayerMediaType},
		{LegacyConfigMediaType, LayerMediaType},
	} {
		t.Run(string(tc.config)+" "+string(tc.layer), func(t *testing.T) {
			ref := putArtifact(t, host, string(tc.config), []v1.Descriptor{layerOf(module, tc.layer)}, module)
			a, err := c.Pull(context.Background(), ref)
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if !bytes.Equal(a.Module, module) || a.Manifest != nil {
				t.Errorf("Pull = module %q, manifest %+v; want the module as pushed, carrying no manifest", a.Module, a.Manifest)
			}
		})
	}
}

func TestPullRefuses(t *testing.T) {
	noDockerConfig(t)
	host := newRegistry(t, nil)
	c := &Client{}
	image, err := random.Image(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	imageRef := host + "/plugins/image:v1"
	r, err := name.ParseReference(imageRef)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, image); err != nil {
		t.Fatal(err)
	}
	huge := layerOf(module, LayerMediaType)
	huge.Size = wasmmodule.MaxBytes + 1
	for _, tc := range []struct {
		name string
		ref  func() string
		want string
	}{
		{"container image", func() string { return imageRef }, `it is not a WebAssembly artifact: its config is "application/vnd.docker.container.image.v1+json"`},
		{"two layers", func() string {
			return putArtifact(t, host, string(ConfigMediaType), []v1.Descriptor{layerOf(module, LayerMediaType), layerOf(module, LayerMediaType)}, module)
		}, "it has 2 layers"},
		{"not a module layer", func() string {
			return putArtifact(t, host, string(ConfigMediaType), []v1.Descriptor{layerOf(module, "text/plain")}, module)
		}, `its layer is "text/plain"`},
		{"over the size limit", func() string {
			return putArtifact(t, host, string(ConfigMediaType), []v1.Descriptor{huge}, module)
		}, "its module is 67108865 bytes; the limit is 67108864"},
		{"not wasm", func() string {
			return putArtifact(t, host, string(ConfigMediaType), []v1.Descriptor{layerOf([]byte("#!/bin/sh"), LayerMediaType)}, []byte("#!/bin/sh"))
		}, "its layer is not a WebAssembly module"},
		{"bad embedded manifest", func() string {
			bad, _ := wasmmodule.SetCustomSection(module, manifest.SectionName, []byte("{"))
			return putArtifact(t, host, string(ConfigMediaType), []v1.Descriptor{layerOf(bad, LegacyLayerMediaType)}, bad)
		}, "is not a plugin manifest"},
		{"missing", func() string { return host + "/plugins/missing:v1" }, "pulling " + host + "/plugins/missing:v1: GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a, err := c.Pull(context.Background(), tc.ref()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Pull = %+v, %v; want an error containing %q", a, err, tc.want)
			}
		})
	}
}

// A registry that serves other bytes than the digest it is asked for,
// or more bytes than the manifest says, is caught.
func TestPullFromALyingRegistry(t *testing.T) {
	noDockerConfig(t)
	var (
		lie           func(w http.ResponseWriter) bool
		lieAbout      = "/blobs/"
		otherManifest []byte
	)
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, lieAbout) && lie != nil && lie(w) {
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c := &Client{}
	pushed, err := c.Push(context.Background(), host+"/plugins/wait:v1", plugin, module)
	if err != nil {
		t.Fatal(err)
	}
	evil := *plugin
	evil.Name = "evil"
	other, err := c.Push(context.Background(), host+"/plugins/wait:evil", &evil, module)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(other)
	if err != nil {
		t.Fatal(err)
	}
	otherManifest = desc.Manifest
	for _, tc := range []struct {
		name  string
		about string
		lie   func(w http.ResponseWriter) bool
		want  string
	}{
		{"another manifest for the digest", "/manifests/", func(w http.ResponseWriter) bool {
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			_, _ = w.Write(otherManifest)
			return true
		}, "manifest digest"},
		{"other bytes", "/blobs/", func(w http.ResponseWriter) bool {
			other, _ := manifest.Embed(plugin, module)
			other[len(other)-1] = ' ' // the same length, another digest
			_, _ = w.Write(other)
			return true
		}, "error verifying sha256 checksum"},
		{"endless bytes", "/blobs/", func(w http.ResponseWriter) bool {
			chunk := bytes.Repeat([]byte{0}, 1<<16)
			for range 1 << 12 { // 256 MiB at most, unless the client hangs up
				if _, err := w.Write(chunk); err != nil {
					break
				}
			}
			return true
		}, "the module has sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lie, lieAbout = tc.lie, tc.about
			defer func() { lie = nil }()
			if a, err := c.Pull(context.Background(), pushed.String()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Pull = %+v, %v; want an error containing %q", a, err, tc.want)
			}
		})
	}
}

func TestTLSWithAPrivateCA(t *testing.T) {
	noDockerConfig(t)
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Setenv("SSL_CERT_FILE", "")
	untrusting, err := Transport()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Client{Transport: untrusting}).Push(ctx, host+"/plugins/wait:v1", plugin, module); err == nil || !strings.Contains(err.Error(), "trust the registry's CA with --ca-file") {
		t.Errorf("Push to an untrusted registry = %v; want an error saying to trust its CA", err)
	}

	trusting, err := Transport(ca)
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := (&Client{Transport: trusting}).Push(ctx, host+"/plugins/wait:v1", plugin, module)
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv("SSL_CERT_FILE", ca)
	fromEnv, err := Transport()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Client{Transport: fromEnv}).Pull(ctx, pushed.String()); err != nil {
		t.Errorf("Pull trusting SSL_CERT_FILE: %v", err)
	}

	if _, err := Transport(filepath.Join(t.TempDir(), "missing.pem")); err == nil || !strings.Contains(err.Error(), "reading CA certificates") {
		t.Errorf("Transport(missing file) = %v", err)
	}
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	_ = os.WriteFile(notPEM, []byte("hello"), 0o600)
	if _, err := Transport(notPEM); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("Transport(not PEM) = %v", err)
	}
	badCert := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(badCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}), 0o600)
	if _, err := Transport(badCert); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("Transport(a CERTIFICATE block that does not parse) = %v", err)
	}
}

// TestTransportLoadsTheSystemCAsAtFirstUse checks that Transport leaves
// loading the system's CAs to the transport's first request, and does it
// once.
func TestTransportLoadsTheSystemCAsAtFirstUse(t *testing.T) {
	noDockerConfig(t)
	t.Setenv("SSL_CERT_FILE", "")
	loads := 0
	orig := systemCertPool
	t.Cleanup(func() { systemCertPool = orig })
	systemCertPool = func() (*x509.CertPool, error) {
		loads++
		return orig()
	}
	tr, err := Transport()
	if err != nil {
		t.Fatal(err)
	}
	if loads != 0 {
		t.Fatalf("Transport loaded the system's CAs %d times before any request", loads)
	}
	host := newRegistry(t, nil)
	for range 2 {
		if _, err := (&Client{Transport: tr}).Push(context.Background(), host+"/plugins/wait:v1", plugin, module); err != nil {
			t.Fatal(err)
		}
	}
	if loads != 1 {
		t.Errorf("the system's CAs were loaded %d times over two pushes; want once", loads)
	}
}

func TestBasicAuthFromDockerConfig(t *testing.T) {
	noDockerConfig(t)
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if user, pass, ok := r.BasicAuth(); !ok || user != "builder" || pass != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	writeConfig := func(pass string) {
		auth := base64.StdEncoding.EncodeToString([]byte("builder:" + pass))
		config := `{"auths":{"` + host + `":{"auth":"` + auth + `"}}}`
		if err := os.WriteFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := &Client{}
	if _, err := c.Push(ctx, host+"/plugins/wait:v1", plugin, module); err == nil || !strings.Contains(err.Error(), "the registry refused the credentials") {
		t.Errorf("Push without credentials = %v; want them refused", err)
	}
	writeConfig("wrong")
	if _, err := c.Push(ctx, host+"/plugins/wait:v1", plugin, module); err == nil || !strings.Contains(err.Error(), "the registry refused the credentials") {
		t.Errorf("Push with a wrong password = %v; want it refused", err)
	}
	writeConfig("s3cret")
	pushed, err := c.Push(ctx, host+"/plugins/wait:v1", plugin, module)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pull(ctx, pushed.String()); err != nil {
		t.Errorf("Pull with credentials: %v", err)
	}
}
