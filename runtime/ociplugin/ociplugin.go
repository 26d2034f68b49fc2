// Package ociplugin moves plugin modules to and from OCI registries. It
// owns the artifact a plugin is in a registry, the checks of what a
// registry serves, the on-disk cache of pulled artifacts (Cache) and the
// registry client settings (credentials, trusted CAs); it uses
// go-containerregistry for the registry protocol. It does not decide which modules run (the
// manifest that names an artifact does) nor compile them (the engine).
//
// An artifact follows the WebAssembly OCI artifact layout of the CNCF TAG
// Runtime (tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact):
// an OCI image manifest whose config has media type ConfigMediaType and
// holds {"architecture":"wasm","os":"wasip1","layerDigests":[…]}, and one
// layer, the module, of media type LayerMediaType (application/wasm). Pull
// also takes the layout of the tools before it (wasm-to-oci,
// oci-distribution, Kubewarden's policies): config LegacyConfigMediaType,
// layer LegacyLayerMediaType, in any mix with the CNCF types. The plugin manifest
// travels in the module itself (manifest.Embed: the custom section
// tekton-wasm.manifest), so the digest that pins the artifact pins it too,
// and a copy of it, as JSON, in the manifest annotation ManifestAnnotation,
// for tools that list a registry without fetching blobs.
package ociplugin

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

const (
	// ConfigMediaType is the media type of the config Push writes, the
	// CNCF layout's.
	ConfigMediaType types.MediaType = "application/vnd.wasm.config.v0+json"
	// LayerMediaType is the media type of the module layer Push writes,
	// the CNCF layout's.
	LayerMediaType types.MediaType = "application/wasm"
	// LegacyConfigMediaType and LegacyLayerMediaType are the config and
	// layer media types of the tools before the CNCF layout (wasm-to-oci,
	// oci-distribution, Kubewarden, Istio's WasmPlugin images); Pull
	// accepts them too, so that modules those tools pushed can be pulled.
	LegacyConfigMediaType types.MediaType = "application/vnd.wasm.config.v1+json"
	LegacyLayerMediaType  types.MediaType = "application/vnd.wasm.content.layer.v1+wasm"
	// ManifestAnnotation is the OCI manifest annotation holding a copy of
	// the plugin manifest as JSON.
	ManifestAnnotation = "dev.tekton-wasm.plugin.manifest"
	// MaxManifestBytes caps an artifact's OCI manifest (one config, one
	// layer and a few annotations take about a kilobyte); a larger one is
	// refused after go-containerregistry read it, which it caps at 100 MiB.
	MaxManifestBytes = 64 << 10
)

// Client pushes and pulls plugin artifacts. Its fields are set before
// first use; it is then safe for concurrent use.
type Client struct {
	// Keychain finds the credentials for a registry; nil means
	// authn.DefaultKeychain: the docker config in $DOCKER_CONFIG (default
	// ~/.docker), with its credential helpers.
	Keychain authn.Keychain
	// Transport carries the requests; nil means go-containerregistry's
	// default, trusting the system's CAs only. See Transport.
	Transport http.RoundTripper
	// CredentialsHint and CAHint say what to do when a registry refuses
	// the credentials, or presents a certificate no trusted CA signed;
	// empty means the advice of the tkn-wasm CLI (docker login, --ca-file).
	CredentialsHint, CAHint string
}

// The advice of the tkn-wasm CLI on registry errors (Client).
const (
	defaultCredentialsHint = "log in (docker login), or point DOCKER_CONFIG at a directory whose config.json has them"
	defaultCAHint          = "trust the registry's CA with --ca-file or SSL_CERT_FILE"
)

func (c *Client) options(ctx context.Context) []remote.Option {
	keychain := c.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain), remote.WithUserAgent("tekton-wasm")}
	if c.Transport != nil {
		opts = append(opts, remote.WithTransport(c.Transport))
	}
	return opts
}

// Transport returns an HTTP transport trusting the system's CAs plus the
// PEM certificates in caFiles and in $SSL_CERT_FILE, if set (read here,
// on every platform, so that a private CA can be added the same way
// everywhere). The files are read and checked here; the certificate pool
// is built at the transport's first request, since loading the system's
// CAs costs tens of milliseconds of CPU that a controller loading every
// plugin from its caches would spend at start for nothing.
func Transport(caFiles ...string) (http.RoundTripper, error) {
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		caFiles = append(caFiles, f)
	}
	pems := make([][]byte, 0, len(caFiles))
	for _, f := range caFiles {
		pem, err := boundedread.Open(f, maxCABytes)
		if err != nil {
			return nil, fmt.Errorf("reading CA certificates %s: %w", f, err)
		}
		if !holdsCertificate(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f)
		}
		pems = append(pems, pem)
	}
	return &lazyTransport{build: func() *http.Transport {
		pool, err := systemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, pem := range pems {
			pool.AppendCertsFromPEM(pem)
		}
		t := remote.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		return t
	}}, nil
}

// systemCertPool is x509.SystemCertPool; tests count its calls.
var systemCertPool = x509.SystemCertPool

// holdsCertificate reports whether b holds a PEM certificate that
// x509.CertPool.AppendCertsFromPEM would add: a CERTIFICATE block
// without headers that parses. It stops at the first one.
func holdsCertificate(b []byte) bool {
	for len(b) > 0 {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return false
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err == nil {
			return true
		}
	}
	return false
}

// lazyTransport builds its transport at its first request.
type lazyTransport struct {
	once  sync.Once
	build func() *http.Transport
	t     *http.Transport
}

func (l *lazyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	l.once.Do(func() { l.t = l.build() })
	return l.t.RoundTrip(r)
}

// maxCABytes caps a CA file: a system bundle is about 200 KiB.
const maxCABytes = 4 << 20

// wasmConfig is the artifact config of the CNCF layout.
type wasmConfig struct {
	// Created is fixed (the Unix epoch), so that pushing the same module
	// and manifest twice gives the same digest.
	Created      string   `json:"created"`
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	LayerDigests []string `json:"layerDigests"`
}

// Push embeds p in module (manifest.Embed), pushes the module as an
// artifact to ref (a tag or a digest reference) and returns the artifact
// by digest, HOST/REPO@sha256:…, which names exactly what was pushed.
func (c *Client) Push(ctx context.Context, ref string, p *manifest.Manifest, module []byte) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%q is not an image reference (HOST/REPO:TAG): %w", ref, err)
	}
	if !wasmmodule.IsWasm(module) {
		return name.Digest{}, fmt.Errorf("the module is %w", wasmmodule.ErrNotWasm)
	}
	if module, err = manifest.Embed(p, module); err != nil {
		return name.Digest{}, err
	}
	img, err := newArtifact(p, module)
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(r, img, c.options(ctx)...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing %s: %w", r, c.explain(err))
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(d.String()), nil
}

// artifact is a plugin artifact being pushed: a v1.Image over the bytes
// of its OCI manifest, config and module.
type artifact struct {
	manifest, config []byte
	layer            v1.Layer
}

func newArtifact(p *manifest.Manifest, module []byte) (v1.Image, error) {
	layer := static.NewLayer(module, LayerMediaType)
	layerDigest, err := layer.Digest()
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(wasmConfig{Created: "1970-01-01T00:00:00Z", Architecture: "wasm", OS: "wasip1", LayerDigests: []string{layerDigest.String()}})
	if err != nil {
		return nil, err
	}
	configDigest, configSize, err := v1.SHA256(bytes.NewReader(config))
	if err != nil {
		return nil, err
	}
	embedded := p.Carried()
	annotation, err := json.Marshal(&embedded)
	if err != nil {
		return nil, err
	}
	m, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: ConfigMediaType, Size: configSize, Digest: configDigest},
		Layers: []v1.Descriptor{{MediaType: LayerMediaType, Size: int64(len(module)), Digest: layerDigest,
			Annotations: map[string]string{"org.opencontainers.image.title": p.Name + ".wasm"}}},
		Annotations: map[string]string{ManifestAnnotation: string(annotation)},
	})
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&artifact{manifest: m, config: config, layer: layer})
}

func (a *artifact) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if d, err := a.layer.Digest(); err == nil && d == h {
		return a.layer, nil
	}
	return nil, fmt.Errorf("the artifact has no blob %s", h)
}

// Artifact is a pulled plugin artifact.
type Artifact struct {
	// Ref names the artifact by digest.
	Ref name.Digest
	// Module is the module, its digest and size checked.
	Module []byte
	// Manifest is the manifest the module carries (manifest.Embedded),
	// nil if it carries none (an artifact pushed by another tool).
	Manifest *manifest.Manifest
	// Annotations are the OCI manifest's annotations.
	Annotations map[string]string

	// ociManifest is the OCI manifest, as the registry served it.
	ociManifest []byte
}

// Pull fetches the artifact ref names (a tag or, to get exactly what was
// reviewed, a digest) and checks it: an OCI image manifest of at most
// MaxManifestBytes (not an index) in the wasm layout, with one module
// layer of at most wasmmodule.MaxBytes (refused before it is fetched),
// whose bytes have the layer's digest (checked while they are read, which
// stops at the size the manifest gives) and are a module whose manifest
// section, if any, is valid.
func (c *Client) Pull(ctx context.Context, ref string) (*Artifact, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%q is not an image reference (HOST/REPO:TAG or HOST/REPO@sha256:…): %w", ref, err)
	}
	desc, err := remote.Get(r, c.options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", r, c.explain(err))
	}
	where := r.Context().Digest(desc.Digest.String())
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s is an image index, not a plugin artifact; name the artifact's own manifest", where)
	}
	a, err := c.checkArtifact(desc.Manifest, func(l v1.Descriptor) (io.ReadCloser, error) {
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		return layer.Compressed()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	a.Ref = where
	return a, nil
}

// checkArtifact checks an OCI manifest and the module it names, which
// open returns a reader of, as Pull describes.
func (c *Client) checkArtifact(raw []byte, open func(v1.Descriptor) (io.ReadCloser, error)) (*Artifact, error) {
	if len(raw) > MaxManifestBytes {
		return nil, fmt.Errorf("its manifest is %d bytes; a plugin artifact's is at most %d", len(raw), MaxManifestBytes)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("its manifest is not an image manifest: %w", err)
	}
	switch {
	case m.MediaType != "" && m.MediaType != types.OCIManifestSchema1 && m.MediaType != types.DockerManifestSchema2:
		return nil, fmt.Errorf("it is a %s, not a plugin artifact (an OCI image manifest)", m.MediaType)
	case m.Config.MediaType != ConfigMediaType && m.Config.MediaType != LegacyConfigMediaType:
		return nil, fmt.Errorf("it is not a WebAssembly artifact: its config is %q, not %q (push modules with tkn-wasm push)", m.Config.MediaType, ConfigMediaType)
	case len(m.Layers) != 1:
		return nil, fmt.Errorf("it has %d layers; a plugin artifact has one, the module", len(m.Layers))
	}
	l := m.Layers[0]
	switch {
	case l.MediaType != LayerMediaType && l.MediaType != LegacyLayerMediaType:
		return nil, fmt.Errorf("its layer is %q, not a module (%q)", l.MediaType, LayerMediaType)
	case l.Size < 0 || l.Size > wasmmodule.MaxBytes:
		return nil, fmt.Errorf("its module is %d bytes; the limit is %d", l.Size, wasmmodule.MaxBytes)
	}
	rc, err := open(l)
	if err != nil {
		return nil, fmt.Errorf("fetching the module: %w", c.explain(err))
	}
	defer rc.Close()
	module, err := boundedread.All(io.LimitReader(rc, l.Size), wasmmodule.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("fetching the module: %w", c.explain(err))
	}
	switch {
	case "sha256:"+wasmmodule.Digest(module) != l.Digest.String():
		return nil, fmt.Errorf("the module has sha256 %s, not the layer's digest %s", wasmmodule.Digest(module), l.Digest)
	case !wasmmodule.IsWasm(module):
		return nil, fmt.Errorf("its layer is %w", wasmmodule.ErrNotWasm)
	}
	p, err := manifest.Embedded(module)
	if err != nil {
		return nil, err
	}
	return &Artifact{Module: module, Manifest: p, Annotations: m.Annotations, ociManifest: raw}, nil
}

// explain adds what to do to the registry errors a user can fix.
func (c *Client) explain(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var terr *transport.Error
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%w; %s", err, cmp.Or(c.CAHint, defaultCAHint))
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden):
		return fmt.Errorf("%w; the registry refused the credentials: %s", err, cmp.Or(c.CredentialsHint, defaultCredentialsHint))
	}
	return err
}
