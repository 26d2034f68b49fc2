package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/ociplugin"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// ociRegistry is go-containerregistry's in-process registry, optionally
// requiring basic auth, counting the requests it serves.
type ociRegistry struct {
	host     string
	requests atomic.Int64
	handler  http.Handler
	srv      *httptest.Server
	// before, if set, is called before each request is served.
	before atomic.Pointer[func(*http.Request)]
}

const (
	regUser, regPassword = "puller", "s3cret"
)

func newOCIRegistry(t *testing.T, basicAuth bool) *ociRegistry {
	t.Helper()
	r := &ociRegistry{}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	r.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if f := r.before.Load(); f != nil {
			(*f)(req)
		}
		if u, p, ok := req.BasicAuth(); basicAuth && (!ok || u != regUser || p != regPassword) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, req)
	})
	r.srv = httptest.NewServer(r.handler)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	t.Cleanup(func() { r.srv.Close() })
	return r
}

// stop stops serving; restart serves again on the same address.
func (r *ociRegistry) stop() { r.srv.Close() }

func (r *ociRegistry) restart(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", r.host)
	if err != nil {
		t.Fatalf("listening on %s again: %v", r.host, err)
	}
	r.srv = httptest.NewUnstartedServer(r.handler)
	r.srv.Listener.Close()
	r.srv.Listener = l
	r.srv.Start()
}

// dockerConfig is a .dockerconfigjson with the registry's credentials.
func (r *ociRegistry) dockerConfig(password string) []byte {
	auth := base64.StdEncoding.EncodeToString([]byte(regUser + ":" + password))
	return []byte(fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, r.host, auth))
}

// push pushes module (a .wat file) as the artifact of plugin name and
// returns its reference and the digest of the module it holds.
func (r *ociRegistry) push(t *testing.T, name, wat string) (name.Digest, string) {
	t.Helper()
	keychain, err := ociplugin.DockerConfigKeychain(r.dockerConfig(regPassword))
	if err != nil {
		t.Fatal(err)
	}
	c := &ociplugin.Client{Keychain: keychain}
	p := &manifest.Manifest{Name: name, APIVersion: waitAPI, Kind: "Wait"}
	ref, err := c.Push(context.Background(), r.host+"/plugins/"+name+":v1", p, wasmtest.WAT(t, wat))
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Pull(context.Background(), ref.String())
	if err != nil {
		t.Fatal(err)
	}
	return ref, wasmmodule.Digest(a.Module)
}

// ociConfigMap is a plugin ConfigMap whose module is in a registry.
func ociConfigMap(name, kind, module string, pullSecrets ...string) *corev1.ConfigMap {
	yaml := fmt.Sprintf("name: %s\napiVersion: %s\nkind: %s\nmodule: %s\n", name, waitAPI, kind, module)
	if len(pullSecrets) > 0 {
		yaml += "pullSecrets: [" + strings.Join(pullSecrets, ", ") + "]\n"
	}
	cm := configMap(name, yaml, nil)
	cm.BinaryData = nil
	return cm
}

func pullSecret(name string, config []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: config},
	}
}

// fastRetry retries failed pulls within a test's patience.
func fastRetry(opts Options) Options {
	opts.RetryBase, opts.RetryMax = 10*time.Millisecond, 200*time.Millisecond
	return opts
}

// healthy checks that k is served by the module with digest want.
func (w *world) healthy(k Kind, want string) {
	w.t.Helper()
	e := w.registry.Lookup(k.APIVersion, k.Kind)
	if e == nil || e.Err != nil || e.Digest() != want {
		w.t.Fatalf("%s: %+v; want it served by module %s", k, e, want)
	}
	l, err := w.registry.Acquire(k.APIVersion, k.Kind)
	if err != nil {
		w.t.Fatal(err)
	}
	l.Release()
}

// eventLike skips events until one starts with prefix and contains want.
// Retries may have recorded events since the one a test waits for.
func (w *world) eventLike(prefix, want string) {
	w.t.Helper()
	for {
		if ev := w.event(); strings.HasPrefix(ev, prefix) && strings.Contains(ev, want) {
			return
		}
	}
}

// broken checks that k is unavailable with an error containing want,
// which a Warning Event with reason reported.
func (w *world) broken(k Kind, reason, want string) {
	w.t.Helper()
	e := w.registry.Lookup(k.APIVersion, k.Kind)
	if e == nil || e.Err == nil || !strings.Contains(e.Err.Error(), want) {
		w.t.Fatalf("%s: %+v; want it broken with %q", k, e, want)
	}
	if _, err := w.registry.Acquire(k.APIVersion, k.Kind); err == nil || err.Error() != e.Err.Error() {
		w.t.Errorf("Acquire(%s) = %v; want %v", k, err, e.Err)
	}
	w.eventLike("Warning "+reason+" ", want)
}

// A module named by digest is pulled once per cache directory: not for
// a second ConfigMap naming the same digest, nor after a restart; a new
// digest loads the new module.
func TestPullByDigestOnce(t *testing.T) {
	reg := newOCIRegistry(t, false)
	ref, digest := reg.push(t, "wait", "testdata/answer.wat")
	ref2, digest2 := reg.push(t, "wait", "../../examples/hostile/src/loop.wat")
	cacheDir := t.TempDir()
	opts := Options{ModuleCacheDir: cacheDir}
	reg.requests.Store(0)

	w := startWith(t, opts)
	w.apply(ociConfigMap("wait", "Wait", "oci://"+ref.String()))
	w.changed(waitKind)
	w.healthy(waitKind, digest)
	pulled := reg.requests.Load()
	if pulled == 0 {
		t.Fatal("the registry served no request")
	}
	sleep := Kind{waitAPI, "Sleep"}
	w.apply(ociConfigMap("sleep", "Sleep", "oci://"+ref.String()))
	w.changed(sleep)
	w.healthy(sleep, digest)
	if n := reg.requests.Load(); n != pulled {
		t.Errorf("a second ConfigMap naming the same digest made %d more requests; want none", n-pulled)
	}

	// A restart with the same cache directory pulls nothing, even with
	// the registry down.
	reg.stop()
	restarted := startWith(t, opts, ociConfigMap("wait", "Wait", "oci://"+ref.String()))
	restarted.changed(waitKind)
	restarted.healthy(waitKind, digest)
	reg.restart(t)

	// Another digest: another module.
	w.apply(ociConfigMap("wait", "Wait", "oci://"+ref2.String()))
	w.changed(waitKind)
	w.healthy(waitKind, digest2)
}

// The "Loaded plugin" log line of a module in a registry says how long
// its pull took (from the registry or the module cache), beside the
// compile time; that of a module in its ConfigMap has no pull time.
func TestPullTimeLogged(t *testing.T) {
	reg := newOCIRegistry(t, false)
	ref, _ := reg.push(t, "wait", "testdata/answer.wat")
	core, logs := observer.New(zap.InfoLevel)
	w := startWith(t, Options{Logger: zap.New(core).Sugar()})
	w.apply(ociConfigMap("wait", "Wait", "oci://"+ref.String()))
	w.changed(waitKind)
	w.apply(configMap("local", "name: local\napiVersion: "+waitAPI+"\nkind: Local\nmodule: wait.wasm\n", wasmtest.WAT(t, "testdata/answer.wat")))
	w.changed(Kind{waitAPI, "Local"})
	loaded := map[string]map[string]any{}
	for _, e := range logs.FilterMessage("Loaded plugin").All() {
		loaded[e.ContextMap()["plugin"].(string)] = e.ContextMap()
	}
	if f := loaded["wait"]; f == nil || f["pullTime"] == nil || f["compileTime"] == nil {
		t.Errorf("the registry module's Loaded plugin line has fields %v; want pullTime and compileTime", f)
	}
	if f := loaded["local"]; f == nil || f["pullTime"] != nil {
		t.Errorf("the ConfigMap module's Loaded plugin line has fields %v; want no pullTime", f)
	}
}

func TestPullRefused(t *testing.T) {
	reg := newOCIRegistry(t, false)
	ref, _ := reg.push(t, "wait", "testdata/answer.wat")
	unknown := ref.Context().Digest("sha256:" + strings.Repeat("0", 64))
	for _, tc := range []struct{ name, module, reason, want string }{
		{"wrong digest", "oci://" + unknown.String(), EventPullFailed, "pulling " + unknown.String() + ": GET http://" + reg.host + "/v2/plugins/wait/manifests/" + unknown.DigestStr() + ": MANIFEST_UNKNOWN: Unknown manifest; the registry has no such artifact: push it"},
		{"tag", "oci://" + reg.host + "/plugins/wait:v1", EventInvalid, "names no digest; a tag can change, so pin the artifact by digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startWith(t, fastRetry(Options{ModuleCacheDir: t.TempDir()}), ociConfigMap("wait", "Wait", tc.module), configMap("other", strings.Replace(waitYAML, "Wait", "Other", 1), wasmtest.WAT(t, "testdata/answer.wat")))
			for range 2 {
				<-w.changes
			}
			w.broken(waitKind, tc.reason, tc.want)
			// Other kinds are unaffected.
			if e := w.registry.Lookup(waitAPI, "Other"); e == nil || e.Err != nil {
				t.Errorf("Other: %+v; want it served", e)
			}
		})
	}
}

// A registry requiring credentials: a ConfigMap without pull secrets is
// refused with what to do; one naming a Secret that does not exist yet
// is unavailable until the Secret is created, then heals by itself.
func TestPullSecrets(t *testing.T) {
	reg := newOCIRegistry(t, true)
	ref, digest := reg.push(t, "wait", "testdata/answer.wat")
	module := "oci://" + ref.String()

	w := startWith(t, fastRetry(Options{ModuleCacheDir: t.TempDir()}))
	w.apply(ociConfigMap("wait", "Wait", module))
	w.changed(waitKind)
	w.broken(waitKind, EventPullFailed, "the registry refused the credentials: "+credentialsHint)

	w.apply(ociConfigMap("wait", "Wait", module, "registry-creds"))
	w.changed(waitKind)
	w.broken(waitKind, EventPullFailed, "pullSecrets: Secret tekton-wasm/registry-creds does not exist; create it in the controller's namespace")

	ctx := context.Background()
	wrongType := pullSecret("registry-creds", reg.dockerConfig(regPassword))
	wrongType.Type = corev1.SecretTypeOpaque
	if _, err := w.kube.CoreV1().Secrets(ns).Create(ctx, wrongType, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.changed(waitKind) // retried with backoff
	w.broken(waitKind, EventPullFailed, `pullSecrets: Secret tekton-wasm/registry-creds is of type "Opaque"; a pull secret is of type kubernetes.io/dockerconfigjson`)

	if _, err := w.kube.CoreV1().Secrets(ns).Update(ctx, pullSecret("registry-creds", reg.dockerConfig(regPassword)), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.changed(waitKind) // healed without touching the ConfigMap
	w.healthy(waitKind, digest)
	w.eventLike("Normal "+EventLoaded+" ", digest)
}

// A registry that is down makes the kind unavailable; once it is back,
// the plugin loads without the ConfigMap changing.
func TestPullHealsWhenTheRegistryIsBack(t *testing.T) {
	reg := newOCIRegistry(t, false)
	ref, digest := reg.push(t, "wait", "testdata/answer.wat")
	reg.stop()

	w := startWith(t, fastRetry(Options{ModuleCacheDir: t.TempDir()}), ociConfigMap("wait", "Wait", "oci://"+ref.String()))
	w.changed(waitKind)
	w.broken(waitKind, EventPullFailed, "connection refused")
	if !w.registry.HasSynced() {
		t.Error("HasSynced is false with the registry down; a failed pull must not hold readiness")
	}

	reg.restart(t)
	w.changed(waitKind)
	w.healthy(waitKind, digest)
}

// Pulls by the controller use no credentials but those of the Secrets a
// manifest names: not the docker config of the controller's user.
func TestPullIgnoresTheDockerConfig(t *testing.T) {
	reg := newOCIRegistry(t, true)
	ref, _ := reg.push(t, "wait", "testdata/answer.wat")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), reg.dockerConfig(regPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", dir)
	if a, err := authn.DefaultKeychain.Resolve(ref.Context()); err != nil || a == authn.Anonymous {
		t.Fatalf("the docker config holds no credentials for the registry: %v", err)
	}
	w := startWith(t, Options{}, ociConfigMap("wait", "Wait", "oci://"+ref.String()))
	w.changed(waitKind)
	w.broken(waitKind, EventPullFailed, "the registry refused the credentials")
}

// A failing module cache is reported without the controller's paths,
// which run status must not show.
func TestPullCacheErrorNamesNoPath(t *testing.T) {
	reg := newOCIRegistry(t, false)
	ref, _ := reg.push(t, "wait", "testdata/answer.wat")
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWith(t, Options{ModuleCacheDir: notADir}, ociConfigMap("wait", "Wait", "oci://"+ref.String()))
	w.changed(waitKind)
	w.broken(waitKind, EventPullFailed, "the controller's module cache failed (not a directory); see the controller's log")
	if e := w.registry.Lookup(waitAPI, "Wait"); strings.Contains(e.Err.Error(), notADir) {
		t.Errorf("the error names the cache directory: %v", e.Err)
	}
}

// ConfigMaps naming the same artifact, loaded at once by two workers,
// share one pull.
func TestPullSharedByConcurrentLoads(t *testing.T) {
	reg := newOCIRegistry(t, false)
	ref, digest := reg.push(t, "wait", "testdata/answer.wat")
	var manifestGets atomic.Int64
	second := make(chan struct{})
	hold := func(req *http.Request) {
		if strings.Contains(req.URL.Path, "/manifests/") && req.Method == http.MethodGet {
			if manifestGets.Add(1) == 2 {
				close(second)
			}
			// Hold the first pull until a second one arrives, if any does.
			select {
			case <-second:
			case <-time.After(2 * time.Second):
			}
		}
	}
	reg.before.Store(&hold)
	module := "oci://" + ref.String()
	w := startWith(t, Options{ModuleCacheDir: t.TempDir(), Workers: 2},
		ociConfigMap("wait", "Wait", module), ociConfigMap("sleep", "Sleep", module))
	for range 2 {
		<-w.changes
	}
	w.healthy(waitKind, digest)
	w.healthy(Kind{waitAPI, "Sleep"}, digest)
	if n := manifestGets.Load(); n != 1 {
		t.Errorf("the registry served the artifact's manifest %d times; want once", n)
	}
}
