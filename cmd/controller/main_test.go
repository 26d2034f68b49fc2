package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/tekton-wasm/tekton-wasm/runtime/reconciler"
)

func TestProbes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := false
	h := probes(ctx, func() bool { return ready })
	status := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	for _, step := range []struct {
		name                  string
		do                    func()
		wantHealth, wantReady int
	}{
		{"plugins loading", func() {}, 200, 503},
		{"plugins loaded", func() { ready = true }, 200, 200},
		{"shutting down", cancel, 503, 503},
	} {
		step.do()
		if h, r := status("/health"), status("/readiness"); h != step.wantHealth || r != step.wantReady {
			t.Errorf("%s: /health %d, /readiness %d; want %d, %d", step.name, h, r, step.wantHealth, step.wantReady)
		}
	}
}

// The client budget defaults to defaultKubeAPIQPS and defaultKubeAPIBurst
// (knative would default to client-go's 5 and 10), and the flags and
// knative's environment variables still set it.
func TestClientBudget(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		env   string // $KUBE_API_QPS
		args  []string
		qps   float32
		burst int
	}{
		{name: "defaults", qps: defaultKubeAPIQPS, burst: defaultKubeAPIBurst},
		{name: "flags", args: []string{"-kube-api-qps=50", "-kube-api-burst=100"}, qps: 50, burst: 100},
		{name: "environment", env: "30", qps: 30, burst: defaultKubeAPIBurst},
		{name: "zero is refused", args: []string{"-kube-api-qps=0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBE_API_QPS", tc.env)
			fs := flag.NewFlagSet("controller", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg, err := clientConfig(fs, append([]string{"-kubeconfig=" + kubeconfig}, tc.args...))
			if tc.qps == 0 {
				if err == nil {
					t.Fatalf("config with QPS %g accepted", cfg.QPS)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.QPS != tc.qps || cfg.Burst != tc.burst {
				t.Errorf("QPS %g, burst %d; want %g, %d", cfg.QPS, cfg.Burst, tc.qps, tc.burst)
			}
		})
	}
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	if _, err := clientConfig(fs, []string{"-kubeconfig=" + kubeconfig}); err != nil {
		t.Fatal(err)
	}
	if q, b := fs.Lookup("kube-api-qps").DefValue, fs.Lookup("kube-api-burst").DefValue; q != "20" || b != "40" {
		t.Errorf("-help shows the defaults %s and %s, want 20 and 40", q, b)
	}
}

// Each plugin is paced at the client budget unless -plugin-call-qps or
// -plugin-call-burst says otherwise.
func TestPluginPaceFollowsTheClientBudget(t *testing.T) {
	cfg := &rest.Config{QPS: 100, Burst: 200}
	if got := pluginPace(reconciler.Pace{}, cfg); got != (reconciler.Pace{QPS: 100, Burst: 200}) {
		t.Errorf("unset: %+v, want the client budget 100/200", got)
	}
	if got := pluginPace(reconciler.Pace{QPS: 5, Burst: 7}, cfg); got != (reconciler.Pace{QPS: 5, Burst: 7}) {
		t.Errorf("set: %+v, want 5/7", got)
	}
}
