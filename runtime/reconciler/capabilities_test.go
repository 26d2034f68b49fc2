package reconciler

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/tekton-wasm/tekton-wasm/internal/apiservertest"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/metrics"
	"github.com/tekton-wasm/tekton-wasm/runtime/registry"
)

// TestHTTPClient: an invocation's HTTP client follows its plugin's
// manifest and counts its requests by plugin and result.
func TestHTTPClient(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer s.Close()
	reader := sdkmetric.NewManualReader()
	m, err := metrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Metrics: m, Context: context.Background()}

	if c, err := r.httpClient(&registry.Entry{Manifest: &manifest.Manifest{Name: "none"}}); c != nil || err != nil {
		t.Fatalf("a manifest granting nothing: client %v, %v", c, err)
	}
	p := &manifest.Manifest{Name: "hook", Capabilities: manifest.Capabilities{HTTP: &manifest.HTTPCapability{Allow: []string{strings.TrimPrefix(s.URL, "http://")}}}}
	c, err := r.httpClient(&registry.Entry{Manifest: p})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	session := c.Session()
	if _, err := session.Do(context.Background(), []byte(`{"url":"`+s.URL+`"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := session.Do(context.Background(), []byte(`{"url":"http://example.com/"}`), nil); err == nil {
		t.Fatal("a host outside the manifest was reached")
	}

	got := capabilityCalls(t, reader)
	if got["hook/http/success"] != 1 || got["hook/http/EDENIED"] != 1 || len(got) != 2 {
		t.Errorf("capability calls counted: %v", got)
	}
}

// capabilityCalls reads tekton_wasm.capability.calls from reader, by
// "plugin/capability/result".
func capabilityCalls(t *testing.T, reader sdkmetric.Reader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if sum, ok := md.Data.(metricdata.Sum[int64]); ok && md.Name == "tekton_wasm.capability.calls" {
				for _, dp := range sum.DataPoints {
					plugin, _ := dp.Attributes.Value("plugin")
					capability, _ := dp.Attributes.Value("capability")
					result, _ := dp.Attributes.Value("result")
					got[plugin.AsString()+"/"+capability.AsString()+"/"+result.AsString()] = dp.Value
				}
			}
		}
	}
	return got
}

// TestKubernetesSession: an invocation's Kubernetes session follows its
// plugin's manifest, acts as the run's ServiceAccount ("default" when it
// names none) in its namespace, and counts its requests by plugin and
// result.
func TestKubernetesSession(t *testing.T) {
	api := apiservertest.New(t, []apiservertest.Resource{{GroupVersion: "v1", Name: "configmaps", Kind: "ConfigMap", Namespaced: true}},
		func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"kind":"ConfigMap"}`)) })
	client, err := kubecap.New(&rest.Config{Host: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	m, err := metrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Metrics: m, Context: context.Background(), Kubernetes: client}
	run := &v1beta1.CustomRun{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r"}}

	if s := r.kubernetesSession(&registry.Entry{Manifest: &manifest.Manifest{Name: "none"}}, run); s != nil {
		t.Fatal("a manifest granting nothing got a session")
	}
	p := &manifest.Manifest{Name: "kube", Capabilities: manifest.Capabilities{Kubernetes: []kubecap.Rule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}}}
	s := r.kubernetesSession(&registry.Entry{Manifest: p}, run)
	if _, err := s.Do(context.Background(), []byte(`{"verb":"get","apiVersion":"v1","kind":"ConfigMap","name":"c"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do(context.Background(), []byte(`{"verb":"delete","apiVersion":"v1","kind":"ConfigMap","name":"c"}`), nil); err == nil {
		t.Fatal("a verb outside the manifest was sent")
	}
	reqs := api.Requests()
	if last := reqs[len(reqs)-1]; last != (apiservertest.Request{Method: "GET", Path: "/api/v1/namespaces/ns/configmaps/c", User: "system:serviceaccount:ns:default"}) {
		t.Errorf("requests %+v", reqs)
	}
	if got := capabilityCalls(t, reader); got["kube/kubernetes/success"] != 1 || got["kube/kubernetes/EDENIED"] != 1 || len(got) != 2 {
		t.Errorf("capability calls counted: %v", got)
	}
}

// TestHTTPClientCABundle: the invocation's client trusts the CA bundle
// the registry read for the plugin, besides the system's roots.
func TestHTTPClientCABundle(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer s.Close()
	r := &Reconciler{Context: context.Background()}
	p := &manifest.Manifest{Name: "hook", Capabilities: manifest.Capabilities{HTTP: &manifest.HTTPCapability{Allow: []string{strings.TrimPrefix(s.URL, "https://")}}}}
	doc := []byte(`{"url":"` + s.URL + `"}`)
	for _, tc := range []struct {
		ca   []byte
		fail bool
	}{{nil, true}, {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), false}} {
		c, err := r.httpClient(&registry.Entry{Manifest: p, CABundle: tc.ca})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Session().Do(context.Background(), doc, nil)
		c.CloseIdleConnections()
		if (err != nil) != tc.fail {
			t.Errorf("CA bundle %v: error %v", tc.ca != nil, err)
		}
	}
}
