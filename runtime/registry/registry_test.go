package registry

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

const (
	ns       = "tekton-wasm"
	waitAPI  = "wait.tekton-wasm.dev/v1alpha1"
	waitYAML = "name: wait\napiVersion: " + waitAPI + "\nkind: Wait\nmodule: wait.wasm\n"
)

var waitKind = Kind{waitAPI, "Wait"}

type world struct {
	t        *testing.T
	kube     *kubefake.Clientset
	registry *Registry
	events   *record.FakeRecorder
	changes  chan Kind
	version  int
}

func start(t *testing.T, objs ...*corev1.ConfigMap) *world {
	t.Helper()
	return startWith(t, Options{}, objs...)
}

// startWith starts a registry with opts, whose Engine, Kube, Namespace,
// Recorder and (unless set) Logger it sets, over objs.
func startWith(t *testing.T, opts Options, objs ...*corev1.ConfigMap) *world {
	t.Helper()
	return startWithKube(t, opts, nil, objs...)
}

// startWithKube is startWith, calling setup with the fake clientset
// before anything uses it (to add reactors).
func startWithKube(t *testing.T, opts Options, setup func(*kubefake.Clientset), objs ...*corev1.ConfigMap) *world {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if opts.Engine == nil {
		opts.Engine = newEngine(t, "")
	}
	kube := kubefake.NewClientset()
	if setup != nil {
		setup(kube)
	}
	// The fake clientset drops objects created between an informer's
	// list and its watch: wait until the watch is registered.
	watching, once := make(chan struct{}), sync.Once{}
	kube.PrependWatchReactor("configmaps", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := kube.Tracker().Watch(a.GetResource(), a.GetNamespace())
		once.Do(func() { close(watching) })
		return true, w, err
	})
	for _, cm := range objs {
		if _, err := kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{t: t, kube: kube, events: record.NewFakeRecorder(100), changes: make(chan Kind, 100)}
	opts.Kube, opts.Namespace, opts.Recorder = kube, ns, w.events
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t).Sugar()
	}
	w.registry = New(opts)
	if err := w.registry.Start(ctx, func(k Kind) { w.changes <- k }); err != nil {
		t.Fatal(err)
	}
	<-watching
	return w
}

// newEngine returns an engine with the on-disk cache cacheDir ("": none),
// closed when the test ends.
func newEngine(t *testing.T, cacheDir string) *engine.Engine {
	t.Helper()
	eng, err := engine.New(context.Background(), engine.Config{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	return eng
}

// configMap builds a plugin ConfigMap holding manifest and module.
func configMap(name, manifestYAML string, module []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{manifest.PluginLabel: manifest.PluginLabelValue}},
		Data:       map[string]string{manifest.ManifestKey: manifestYAML},
		BinaryData: map[string][]byte{"wait.wasm": module},
	}
}

// apply creates or updates cm. The fake clientset keeps resourceVersions
// as given, so apply numbers them as the apiserver would.
func (w *world) apply(cm *corev1.ConfigMap) {
	w.t.Helper()
	ctx := context.Background()
	w.version++
	cm.ResourceVersion = strconv.Itoa(w.version)
	_, err := w.kube.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{})
	if err != nil {
		_, err = w.kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
	}
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) delete(name string) {
	w.t.Helper()
	if err := w.kube.CoreV1().ConfigMaps(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

// changed waits for the registry to report a change of k.
func (w *world) changed(k Kind) {
	w.t.Helper()
	select {
	case got := <-w.changes:
		if got != k {
			w.t.Fatalf("changed %s, want %s", got, k)
		}
	case <-time.After(30 * time.Second):
		w.t.Fatalf("no change of %s reported", k)
	}
}

// event returns the next Event, "Type Reason Message".
func (w *world) event() string {
	w.t.Helper()
	select {
	case e := <-w.events.Events:
		return e
	case <-time.After(30 * time.Second):
		w.t.Fatal("no event recorded")
		return ""
	}
}

func invoke(t *testing.T, ctx context.Context, l *Lease) (*hostabi.Response, error) {
	t.Helper()
	return l.Plugin.Invoke(ctx, &hostabi.Request{ABIVersion: hostabi.Version, Run: hostabi.RunIdentity{Name: "r"}, Attempt: 1}, engine.Invocation{})
}

// closed reports whether the engine handle p is closed: Clone fails on a
// closed handle only. With every handle on a version closed and no
// invocation running, the engine frees the version's compiled code
// (engine.TestCloneAndInvocationsKeepTheCompiledCode).
func closed(t *testing.T, p *engine.CompiledPlugin) bool {
	t.Helper()
	c, err := p.Clone()
	if err != nil {
		if !strings.Contains(err.Error(), "is closed") {
			t.Fatalf("Clone: %v", err)
		}
		return true
	}
	_ = c.Close(context.Background())
	return false
}

func TestHotReload(t *testing.T) {
	loop := wasmtest.WAT(t, "../../examples/hostile/src/loop.wat")
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	w := start(t)

	// Add.
	w.apply(configMap("wait", waitYAML, loop))
	w.changed(waitKind)
	e := w.registry.Lookup(waitAPI, "Wait")
	if e == nil || e.Err != nil || e.Digest() != wasmmodule.Digest(loop) || e.ConfigMap != ns+"/wait" {
		t.Fatalf("after add: %+v", e)
	}
	if got, want := w.event(), "Normal PluginLoaded Plugin \"wait\" serves Wait ("+waitAPI+"): module sha256 "+wasmmodule.Digest(loop)+", compiled in "; !strings.HasPrefix(got, want) {
		t.Errorf("event %q, want prefix %q", got, want)
	}

	// An invocation holds version 1 while the ConfigMap changes.
	old, err := w.registry.Acquire(waitAPI, "Wait")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := invoke(t, ctx, old)
		done <- err
	}()
	w.apply(configMap("wait", waitYAML, answer))
	w.changed(waitKind)
	if e := w.registry.Lookup(waitAPI, "Wait"); e.Digest() != wasmmodule.Digest(answer) {
		t.Fatalf("after update, serving %s, want %s", e.Digest(), wasmmodule.Digest(answer))
	}
	w.event()
	select {
	case err := <-done:
		t.Fatalf("the invocation on version 1 ended when version 2 was loaded: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if closed(t, old.Plugin) {
		t.Fatal("version 1 was closed while an invocation leased it")
	}
	if !closed(t, old.Entry.plugin) {
		t.Fatal("the registry kept its handle on version 1 after loading version 2")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("invocation on version 1: %v, want context.Canceled", err)
	}
	old.Release()
	old.Release() // harmless
	if !closed(t, old.Plugin) {
		t.Fatal("version 1 was not closed with its last lease")
	}

	// New invocations run version 2.
	l, err := w.registry.Acquire(waitAPI, "Wait")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := invoke(t, context.Background(), l)
	l.Release()
	if err != nil || resp.Status != hostabi.StatusSucceeded || resp.Results[0].Value != "2" {
		t.Fatalf("version 2 answered %+v, %v", resp, err)
	}
	if !closed(t, l.Plugin) {
		t.Fatal("Release left the lease's handle open")
	}
	if closed(t, l.Entry.plugin) {
		t.Fatal("the serving version was closed when its lease ended")
	}

	// Delete.
	w.delete("wait")
	w.changed(waitKind)
	if e := w.registry.Lookup(waitAPI, "Wait"); e != nil {
		t.Fatalf("after delete: %+v", e)
	}
	if _, err := w.registry.Acquire(waitAPI, "Wait"); err == nil || err.Error() != "no plugin serves Wait ("+waitAPI+")" {
		t.Fatalf("Acquire after delete: %v", err)
	}
	if !closed(t, l.Entry.plugin) {
		t.Fatal("the deleted version was not closed")
	}
}

func TestBrokenConfigMaps(t *testing.T) {
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	bigmem := wasmtest.WAT(t, "testdata/bigmem.wat")
	http := wasmtest.WAT(t, "testdata/http.wat")
	for _, tc := range []struct {
		name     string
		cm       *corev1.ConfigMap
		kind     bool   // the kind is known and registered as broken
		want     string // Entry.Err and event message (prefix)
		wantFull bool   // want is the whole message
	}{{
		name: "not a wasm module",
		cm:   configMap("wait", waitYAML, []byte("#!/bin/sh\necho hi\n")),
		kind: true, wantFull: true,
		want: `ConfigMap tekton-wasm/wait: plugin "wait": module "wait.wasm" is not a WebAssembly module (no \0asm header); build it for wasip1 (GOOS=wasip1 GOARCH=wasm, wasm32-wasi)`,
	}, {
		name: "digest mismatch",
		cm:   configMap("wait", waitYAML+"sha256: \""+strings.Repeat("0", 64)+"\"\n", answer),
		kind: true, wantFull: true,
		want: `ConfigMap tekton-wasm/wait: plugin "wait": module "wait.wasm" has sha256 ` + wasmmodule.Digest(answer) + ` but the manifest pins ` + strings.Repeat("0", 64),
	}, {
		name: "missing fields",
		cm:   configMap("wait", "name: wait\nmodule: wait.wasm\n", answer),
		want: `ConfigMap tekton-wasm/wait: plugin manifest "wait" is missing apiVersion, kind`, wantFull: true,
	}, {
		name: "does not compile",
		cm:   configMap("wait", waitYAML, []byte("\x00asm\x01\x00\x00\x00\x01\xff\xff")),
		kind: true,
		want: `ConfigMap tekton-wasm/wait: plugin "wait": the plugin module does not compile: `,
	}, {
		name: "memory minimum above its limit",
		cm:   configMap("wait", waitYAML+"limits: {memory: 64Mi}\n", bigmem),
		kind: true,
		want: `ConfigMap tekton-wasm/wait: plugin "wait": the plugin module does not compile: `,
	}, {
		name: "bad http allow entry",
		cm:   configMap("wait", waitYAML+"capabilities: {http: {allow: [\"https://hooks.example.com\"]}}\n", http),
		kind: true, wantFull: true,
		want: `ConfigMap tekton-wasm/wait: plugin "wait": capabilities.http.allow: http allow entry "https://hooks.example.com" has a scheme or a path; write HOST or HOST:PORT, e.g. hooks.example.com, *.example.org or 127.0.0.1:8443`,
	}, {
		name: "imports a capability not granted",
		cm:   configMap("wait", waitYAML, http),
		kind: true, wantFull: true,
		want: `ConfigMap tekton-wasm/wait: plugin "wait": the plugin imports tekton.http_request, which needs the http capability, and its manifest does not grant it: grant it with capabilities.http in the plugin's manifest, or do not use it`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			other := configMap("other", "name: other\napiVersion: other.dev/v1\nkind: Other\nmodule: wait.wasm\n", answer)
			w := start(t, other)
			w.changed(Kind{"other.dev/v1", "Other"})
			w.event()

			w.apply(tc.cm)
			ev := w.event()
			if !strings.HasPrefix(ev, "Warning PluginInvalid "+tc.want) || (tc.wantFull && ev != "Warning PluginInvalid "+tc.want) {
				t.Errorf("event:\n got %s\nwant Warning PluginInvalid %s", ev, tc.want)
			}
			if tc.kind {
				w.changed(waitKind)
				e := w.registry.Lookup(waitAPI, "Wait")
				if e == nil || e.Err == nil || e.Err.Error() != strings.TrimPrefix(ev, "Warning PluginInvalid ") {
					t.Fatalf("entry %+v, want Err %q", e, ev)
				}
				if _, err := w.registry.Acquire(waitAPI, "Wait"); err != e.Err {
					t.Errorf("Acquire of a broken kind: %v", err)
				}
			} else if e := w.registry.Lookup(waitAPI, "Wait"); e != nil {
				t.Fatalf("a ConfigMap without a kind registered %+v", e)
			}
			// Every other plugin keeps working.
			l, err := w.registry.Acquire("other.dev/v1", "Other")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if resp, err := invoke(t, context.Background(), l); err != nil || resp.Status != hostabi.StatusSucceeded {
				t.Fatalf("other plugin: %+v, %v", resp, err)
			}

			// Fixing the ConfigMap registers the plugin.
			w.apply(configMap("wait", waitYAML, answer))
			w.changed(waitKind)
			if e := w.registry.Lookup(waitAPI, "Wait"); e == nil || e.Err != nil {
				t.Fatalf("after the fix: %+v", e)
			}
		})
	}
}

func TestDuplicateKind(t *testing.T) {
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	w := start(t)
	w.apply(configMap("a", waitYAML, answer))
	w.changed(waitKind)
	w.event()

	w.apply(configMap("b", strings.Replace(waitYAML, "name: wait", "name: wait-copy", 1), answer))
	w.changed(waitKind)
	want := "ConfigMaps tekton-wasm/a and tekton-wasm/b all serve Wait (" + waitAPI + "); delete all but one"
	e := w.registry.Lookup(waitAPI, "Wait")
	if e == nil || e.Err == nil || e.Err.Error() != want {
		t.Fatalf("entry %+v, want Err %q", e, want)
	}
	var events []string
	for range 3 { // loaded b, then the duplicate on a and on b
		events = append(events, w.event())
	}
	if d := cmp.Diff([]string{
		events[0], // PluginLoaded for b, checked below
		"Warning PluginDuplicateKind " + want,
		"Warning PluginDuplicateKind " + want,
	}, events); d != "" || !strings.HasPrefix(events[0], "Normal PluginLoaded Plugin \"wait-copy\"") {
		t.Errorf("events (-want +got):\n%s", d)
	}

	// Deleting one of them registers the other.
	w.delete("a")
	w.changed(waitKind)
	e = w.registry.Lookup(waitAPI, "Wait")
	if e == nil || e.Err != nil || e.ConfigMap != ns+"/b" || e.Manifest.Name != "wait-copy" {
		t.Fatalf("after deleting a: %+v", e)
	}
}

func TestSelection(t *testing.T) {
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	unlabelled := configMap("unlabelled", waitYAML, answer)
	unlabelled.Labels = nil
	elsewhere := configMap("elsewhere", waitYAML, answer)
	elsewhere.Namespace = "default"
	w := start(t, unlabelled, elsewhere, configMap("wait", strings.Replace(waitYAML, "kind: Wait", "kind: Sleep", 1), answer))
	w.changed(Kind{waitAPI, "Sleep"})
	deadline := time.Now().Add(30 * time.Second)
	for !w.registry.HasSynced() {
		if time.Now().After(deadline) {
			t.Fatal("HasSynced stayed false")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if e := w.registry.Lookup(waitAPI, "Wait"); e != nil {
		t.Fatalf("registered a ConfigMap outside the selection: %+v", e)
	}
}

// A panic while loading a ConfigMap makes that plugin broken; the
// controller and every other plugin keep working.
func TestPanicInLoadingIsABrokenPlugin(t *testing.T) {
	decode := decodeConfigMap
	t.Cleanup(func() { decodeConfigMap = decode })
	decodeConfigMap = func(cm *corev1.ConfigMap) (*manifest.Manifest, []byte, error) {
		if cm.Name == "wait" {
			panic("boom")
		}
		return decode(cm)
	}
	answer := wasmtest.WAT(t, "testdata/answer.wat")
	other := configMap("other", "name: other\napiVersion: other.dev/v1\nkind: Other\nmodule: wait.wasm\n", answer)
	w := start(t, other)
	w.changed(Kind{"other.dev/v1", "Other"})
	w.event()

	w.apply(configMap("wait", waitYAML, answer))
	want := "Warning PluginInvalid ConfigMap tekton-wasm/wait: the host failed while loading the plugin (boom); this is a bug in tekton-wasm"
	if ev := w.event(); !strings.HasPrefix(ev, want) {
		t.Errorf("event:\n got %s\nwant %s…", ev, want)
	}
	l, err := w.registry.Acquire("other.dev/v1", "Other")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if resp, err := invoke(t, context.Background(), l); err != nil || resp.Status != hostabi.StatusSucceeded {
		t.Fatalf("other plugin: %+v, %v", resp, err)
	}
}

// TestGrantedCapability: a plugin importing a capability its manifest
// grants loads.
func TestGrantedCapability(t *testing.T) {
	w := start(t, configMap("wait", waitYAML+"capabilities: {http: {allow: [hooks.example.com]}}\n", wasmtest.WAT(t, "testdata/http.wat")))
	w.changed(waitKind)
	if e := w.registry.Lookup(waitAPI, "Wait"); e == nil || e.Err != nil || e.Manifest.Capabilities.HTTP == nil {
		t.Fatalf("entry %+v", e)
	}
}

// TestCABundle: the CA bundle a manifest names is read from its
// ConfigMap in the controller's namespace when the plugin loads; a
// missing or bad one makes the plugin broken, saying which.
func TestCABundle(t *testing.T) {
	http := wasmtest.WAT(t, "testdata/http.wat")
	pem := "-----BEGIN CERTIFICATE-----\nMIIBhTCCASugAwIBAgIQIRi6zePL6mKjOipn+dNuaTAKBggqhkjOPQQDAjASMRAw\nDgYDVQQKEwdBY21lIENvMB4XDTE3MTAyMDE5NDMwNloXDTE4MTAyMDE5NDMwNlow\nEjEQMA4GA1UEChMHQWNtZSBDbzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD0d\n7VNhbWvZLWPuj/RtHFjvtJBEwOkhbN/BnnE8rnZR8+sbwnc/KhCk3FhnpHZnQz7B\n5aETbbIgmuvewdjvSBSjYzBhMA4GA1UdDwEB/wQEAwICpDATBgNVHSUEDDAKBggr\nBgEFBQcDATAPBgNVHRMBAf8EBTADAQH/MCkGA1UdEQQiMCCCDmxvY2FsaG9zdDo1\nNDUzgg4xMjcuMC4wLjE6NTQ1MzAKBggqhkjOPQQDAgNIADBFAiEA2zpJEPQyz6/l\nWf86aX6PepsntZv2GYlA5UpabfT2EZICICpJ5h/iI+i341gBmLiAFQOyTDT+/wQc\n6MF9+Yw1Yy0t\n-----END CERTIFICATE-----\n"
	ca := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "corp-ca"}, Data: map[string]string{"ca.crt": pem, "junk": "not pem"}}
	grant := func(key string) string {
		return waitYAML + "capabilities: {http: {allow: [hooks.example.com], caBundle: {configMap: corp-ca, key: " + key + "}}}\n"
	}
	w := start(t, ca, configMap("wait", grant("ca.crt"), http))
	w.changed(waitKind)
	if e := w.registry.Lookup(waitAPI, "Wait"); e == nil || e.Err != nil || string(e.CABundle) != pem {
		t.Fatalf("entry %+v", e)
	}
	w.event()
	for key, want := range map[string]string{
		"junk":    `capabilities.http.caBundle: ConfigMap tekton-wasm/corp-ca key "junk": the CA bundle holds no PEM certificate`,
		"missing": `capabilities.http.caBundle: ConfigMap tekton-wasm/corp-ca key "missing": the ConfigMap has no such data key`,
	} {
		w.apply(configMap("wait", grant(key), http))
		if ev := w.event(); ev != `Warning PluginInvalid ConfigMap tekton-wasm/wait: plugin "wait": `+want {
			t.Errorf("event %s, want one saying %s", ev, want)
		}
	}
	w.apply(configMap("wait", strings.Replace(grant("ca.crt"), "corp-ca", "other-ca", 1), http))
	if ev := w.event(); !strings.Contains(ev, `ConfigMap tekton-wasm/other-ca key "ca.crt": configmaps "other-ca" not found; create it in the controller's namespace`) {
		t.Errorf("event %s", ev)
	}
}
