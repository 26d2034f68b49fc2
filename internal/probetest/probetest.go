// Package probetest serves the SDKs' probe plugins in their tests: it
// compiles a module in an engine of the test's own, granted the HTTP and
// Kubernetes capabilities as the controller grants them, and runs a local HTTP server
// and a test apiserver whose answers show what the plugin sent.
package probetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/tekton-wasm/tekton-wasm/internal/apiservertest"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// Compile compiles wasm in an engine of its own, granted the HTTP and
// Kubernetes capabilities; the test's Cleanup closes the engine.
func Compile(tb testing.TB, wasm []byte) *engine.CompiledPlugin {
	tb.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close(ctx) })
	p, err := e.Compile(ctx, wasm, engine.Limits{Grants: engine.Grants{HTTP: true, Kubernetes: true}})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// NeedsKubernetesGrant checks that wasm, which imports
// kubernetes_request, is refused without the Kubernetes grant, with the
// error naming the function and the capability.
func NeedsKubernetesGrant(tb testing.TB, wasm []byte) {
	tb.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	defer e.Close(ctx)
	want := "the plugin imports tekton.kubernetes_request, which needs the kubernetes capability, and its manifest does not grant it"
	if _, err := e.Compile(ctx, wasm, engine.Limits{Grants: engine.Grants{HTTP: true}}); err == nil || !strings.Contains(err.Error(), want) {
		tb.Errorf("compiling the probe without the Kubernetes grant = %v, want %q", err, want)
	}
}

// Kubernetes starts a test apiserver serving ConfigMaps that answers
// every request with status 201 and the body "METHOD PATH?QUERY BODY",
// and returns a function that gives each call a Kubernetes session in
// namespace ns whose rules allow creating ConfigMaps, nothing else. The
// test's Cleanup stops the server.
func Kubernetes(tb testing.TB) func() *kubecap.Session {
	tb.Helper()
	api := apiservertest.New(tb, []apiservertest.Resource{{GroupVersion: "v1", Name: "configmaps", Kind: "ConfigMap", Namespaced: true}},
		func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "%s %s?%s %s", r.Method, r.URL.Path, r.URL.RawQuery, body)
		})
	client, err := kubecap.New(&rest.Config{Host: api.URL})
	if err != nil {
		tb.Fatal(err)
	}
	rules := []kubecap.Rule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}}}
	return func() *kubecap.Session {
		return client.Session(rules, kubecap.Identity{Namespace: "ns"}, kubecap.Options{})
	}
}

// Server starts an HTTP server that answers every request with status
// 418, Content-Type text/x-probe and the body "METHOD X-PROBE BODY" (the
// request's method, its X-Probe header and its body), and returns its URL
// and an HTTP capability client whose manifest allows it. The test's
// Cleanup stops it.
func Server(tb testing.TB) (string, *httpcap.Client) {
	tb.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/x-probe")
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("X-Probe"), body)
	}))
	tb.Cleanup(s.Close)
	pol, err := (&manifest.HTTPCapability{Allow: []string{strings.TrimPrefix(s.URL, "http://")}}).Policy(nil)
	if err != nil {
		tb.Fatal(err)
	}
	client, err := httpcap.New(pol, httpcap.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return s.URL, client
}
