// Package probetest serves the SDKs' probe plugins in their tests: it
// compiles a module in an engine of the test's own, granted the HTTP and
// Kubernetes capabilities as the controller grants them, and runs a local HTTP server
// whose answer shows what the plugin sent.
package probetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
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
