package kubecap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// These tests check what the host decides before and around a request:
// the document, the rules, the namespace, the URL, the headers and the
// limits, against a server that echoes what it received. What the
// apiserver does with a request made as a ServiceAccount (RBAC,
// impersonation, custom resources, apply) is tested against the rig's
// real kube-apiserver: test/e2e/kubecap_test.go.

// echo answers every request with 200 and a JSON description of it;
// /status/N answers N with a Status body.
func echo(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(r.URL.Path, "/big") {
			w.Write([]byte(strings.Repeat("x", hostabi.MaxKubernetesResponseBytes+1)))
			return
		}
		json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body),
			"contentType": r.Header.Get("Content-Type"), "user": r.Header.Get("Impersonate-User"),
		})
	}))
	t.Cleanup(s.Close)
	return s
}

// discovery serves ConfigMaps (core, namespaced), PipelineRuns
// (tekton.dev/v1, namespaced) and Namespaces (core, cluster-scoped).
func fakeDiscovery() *fakediscovery.FakeDiscovery {
	return &fakediscovery.FakeDiscovery{Fake: &k8stesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: []string{"get", "list", "create", "patch", "delete"}},
			{Name: "namespaces", Kind: "Namespace", Verbs: []string{"get", "list"}},
		}},
		{GroupVersion: "tekton.dev/v1", APIResources: []metav1.APIResource{
			{Name: "pipelineruns", Kind: "PipelineRun", Namespaced: true, Verbs: []string{"get", "list", "create", "patch", "delete"}},
		}},
	}}}
}

func session(t *testing.T, rules []Rule, id Identity, observe func(hostabi.Errno)) *Session {
	s := echo(t)
	u, _ := url.Parse(s.URL)
	return newClient(u, s.Client(), fakeDiscovery()).Session(rules, id, Options{Observe: observe})
}

var pipelineRuns = []Rule{{APIGroups: []string{"tekton.dev"}, Resources: []string{"pipelineruns"}, Verbs: []string{"get", "create", "patch"}}}

func TestRequests(t *testing.T) {
	id := Identity{Namespace: "ns", ServiceAccount: "builder"}
	rules := append(pipelineRuns, Rule{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"*"}})
	for _, tc := range []struct {
		doc, body string
		want      map[string]string
	}{
		{`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x"}`, "",
			map[string]string{"method": "GET", "path": "/apis/tekton.dev/v1/namespaces/ns/pipelineruns/x", "user": "system:serviceaccount:ns:builder"}},
		{`{"verb":"create","apiVersion":"tekton.dev/v1","kind":"PipelineRun","namespace":"ns"}`, `{"metadata":{"name":"x"}}`,
			map[string]string{"method": "POST", "path": "/apis/tekton.dev/v1/namespaces/ns/pipelineruns", "body": `{"metadata":{"name":"x"}}`, "contentType": "application/json"}},
		{`{"verb":"patch","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x"}`, `{"spec":{"status":"Cancelled"}}`,
			map[string]string{"method": "PATCH", "path": "/apis/tekton.dev/v1/namespaces/ns/pipelineruns/x", "contentType": "application/merge-patch+json"}},
		{`{"verb":"patch","apiVersion":"v1","kind":"ConfigMap","name":"c","patchType":"apply","force":true}`, `{"apiVersion":"v1","kind":"ConfigMap"}`,
			map[string]string{"method": "PATCH", "path": "/api/v1/namespaces/ns/configmaps/c", "contentType": "application/apply-patch+yaml", "query": "fieldManager=tekton-wasm&force=true"}},
		{`{"verb":"list","apiVersion":"v1","kind":"ConfigMap","labelSelector":"app=x","limit":10}`, "",
			map[string]string{"method": "GET", "path": "/api/v1/namespaces/ns/configmaps", "query": "labelSelector=app%3Dx&limit=10"}},
		{`{"verb":"delete","apiVersion":"v1","kind":"ConfigMap","name":"c"}`, "",
			map[string]string{"method": "DELETE", "path": "/api/v1/namespaces/ns/configmaps/c"}},
		{`{"verb":"get","apiVersion":"v1","kind":"Namespace","name":"ns"}`, "",
			map[string]string{"method": "GET", "path": "/api/v1/namespaces/ns"}},
	} {
		resp, err := session(t, rules, id, nil).Do(context.Background(), []byte(tc.doc), []byte(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.doc, err)
			continue
		}
		var got map[string]string
		if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != 200 {
			t.Fatalf("%s: status %d, body %s", tc.doc, resp.Status, resp.Body)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", tc.doc, k, got[k], v)
			}
		}
	}
}

func TestRefused(t *testing.T) {
	id := Identity{Namespace: "ns", ServiceAccount: "builder"}
	for _, tc := range []struct {
		doc, body string
		errno     hostabi.Errno
		want      string
	}{
		{`{"verb":"create","apiVersion":"v1","kind":"ConfigMap"}`, `{}`, hostabi.ErrnoDenied,
			`create ConfigMap in the core group is not allowed: no rule of capabilities.kubernetes in the plugin's manifest grants it; add {apiGroups: [""], resources: ["*"], verbs: ["create"]} to allow it (the run's service account ns/builder must be allowed it too)`},
		{`{"verb":"delete","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x"}`, "", hostabi.ErrnoDenied, `delete PipelineRun in tekton.dev is not allowed`},
		{`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x","namespace":"other"}`, "", hostabi.ErrnoDenied,
			`get pipelineruns.tekton.dev in namespace "other" is not allowed: a plugin reaches the run's namespace "ns" only`},
		{`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"Task","name":"x"}`, "", hostabi.ErrnoInval, `the cluster serves no kind Task in tekton.dev/v1`},
		{`{"verb":"watch","apiVersion":"tekton.dev/v1","kind":"PipelineRun"}`, "", hostabi.ErrnoInval, `verb "watch" is not one the host serves`},
		{`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun"}`, "", hostabi.ErrnoInval, `get needs the object's name`},
		{`{"verb":"create","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x"}`, `{}`, hostabi.ErrnoInval, `create takes no name`},
		{`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"../x"}`, "", hostabi.ErrnoInval, `name "../x" is not valid`},
		{`{"verb":"create","apiVersion":"tekton.dev/v1","kind":"PipelineRun"}`, "", hostabi.ErrnoInval, `create needs a body`},
		{`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x"}`, `{}`, hostabi.ErrnoInval, `get takes no body`},
		{`{"verb":"patch","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x","patchType":"json"}`, `[]`, hostabi.ErrnoInval, `patchType "json" is neither`},
		{`{"verb":"patch","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x","force":true}`, `{}`, hostabi.ErrnoInval, `force is for an apply patch only`},
		{`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x","labelSelector":"a"}`, "", hostabi.ErrnoInval, `labelSelector, limit and continue are for list only`},
		{`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x","watch":true}`, "", hostabi.ErrnoInval, `unknown field "watch"`},
		{`{"verb":"get","apiVersion":"a/b/c","kind":"PipelineRun","name":"x"}`, "", hostabi.ErrnoInval, `apiVersion "a/b/c" is not a group/version`},
		{`{"verb":"get"} {}`, "", hostabi.ErrnoInval, `data after its JSON object`},
		{`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"` + strings.Repeat("x", hostabi.MaxKubernetesRequestJSONBytes) + `"}`, "", hostabi.ErrnoTooLarge, `MaxKubernetesRequestJSONBytes`},
		{`{"verb":"create","apiVersion":"tekton.dev/v1","kind":"PipelineRun"}`, strings.Repeat(" ", hostabi.MaxKubernetesBodyBytes+1), hostabi.ErrnoTooLarge, `MaxKubernetesBodyBytes`},
	} {
		var observed []hostabi.Errno
		_, err := session(t, pipelineRuns, id, func(e hostabi.Errno) { observed = append(observed, e) }).Do(context.Background(), []byte(tc.doc), []byte(tc.body))
		var he *hostabi.Error
		if !errors.As(err, &he) || he.Errno != tc.errno || !strings.Contains(he.Message, tc.want) {
			t.Errorf("%.80s: error %v, want %v saying %q", tc.doc, err, tc.errno, tc.want)
		}
		if fmt.Sprint(observed) != fmt.Sprint([]hostabi.Errno{tc.errno}) {
			t.Errorf("%.80s: observed %v", tc.doc, observed)
		}
	}
}

func TestLimits(t *testing.T) {
	s := session(t, pipelineRuns, Identity{Namespace: "ns"}, nil)
	get := []byte(`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x"}`)
	for i := range hostabi.MaxKubernetesRequests {
		resp, err := s.Do(context.Background(), get, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		// Without a ServiceAccount (tkn-wasm --kubeconfig), nobody is
		// impersonated.
		if i == 0 && strings.Contains(string(resp.Body), "system:serviceaccount") {
			t.Errorf("impersonated without a ServiceAccount: %s", resp.Body)
		}
	}
	if _, err := s.Do(context.Background(), get, nil); hostabi.ErrnoOf(err) != hostabi.ErrnoLimit {
		t.Errorf("request %d: %v, want ELIMIT", hostabi.MaxKubernetesRequests+1, err)
	}
	big := []byte(`{"verb":"get","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"big"}`)
	if _, err := session(t, pipelineRuns, Identity{Namespace: "ns"}, nil).Do(context.Background(), big, nil); hostabi.ErrnoOf(err) != hostabi.ErrnoTooLarge ||
		!strings.Contains(err.Error(), "MaxKubernetesResponseBytes") {
		t.Errorf("an answer over the limit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := session(t, pipelineRuns, Identity{Namespace: "ns"}, nil).Do(ctx, get, nil); hostabi.ErrnoOf(err) != hostabi.ErrnoCanceled {
		t.Errorf("a cancelled call: %v, want ECANCELED", err)
	}
}

func TestValidateRules(t *testing.T) {
	if err := ValidateRules([]Rule{{APIGroups: []string{"", "tekton.dev"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "create", "patch", "delete"}}}); err != nil {
		t.Error(err)
	}
	for want, rules := range map[string][]Rule{
		`rule 0: verbs is empty`:                                       {{APIGroups: []string{""}, Resources: []string{"x"}}},
		`rule 0: apiGroups entry "Tekton.dev" is not an API group`:     {{APIGroups: []string{"Tekton.dev"}, Resources: []string{"x"}, Verbs: []string{"get"}}},
		`rule 0: resources entry "pods.v1" is not a resource`:          {{APIGroups: []string{""}, Resources: []string{"pods.v1"}, Verbs: []string{"get"}}},
		`rule 0: verbs entry "escalate" is not a verb the host serves`: {{APIGroups: []string{""}, Resources: []string{"x"}, Verbs: []string{"escalate"}}},
		fmt.Sprintf("%d rules; at most %d", MaxRules+1, MaxRules):      make([]Rule, MaxRules+1),
	} {
		if err := ValidateRules(rules); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", rules, err, want)
		}
	}
}

// FuzzParse: any document and body either fail with EINVAL or ETOOLARGE
// or make a request that names a verb the host serves, with the name,
// body and list options that verb takes.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"verb":"get","apiVersion":"v1","kind":"ConfigMap","name":"c"}`), []byte(nil))
	f.Add([]byte(`{"verb":"patch","apiVersion":"tekton.dev/v1","kind":"PipelineRun","name":"x","patchType":"apply","force":true}`), []byte(`{}`))
	f.Add([]byte(`{"verb":"list","apiVersion":"v1","kind":"Pod","labelSelector":"a in (b)","limit":3}`), []byte(nil))
	f.Add([]byte(`{"verb":"create","apiVersion":"v1","kind":"ConfigMap"} x`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, doc, body []byte) {
		r, err := parse(doc, body)
		if err != nil {
			if e := hostabi.ErrnoOf(err); e != hostabi.ErrnoInval && e != hostabi.ErrnoTooLarge {
				t.Fatalf("%q: errno %v", doc, e)
			}
			return
		}
		named := r.Verb == hostabi.KubernetesGet || r.Verb == hostabi.KubernetesPatch || r.Verb == hostabi.KubernetesDelete
		withBody := r.Verb == hostabi.KubernetesCreate || r.Verb == hostabi.KubernetesPatch
		switch {
		case !named && !withBody && r.Verb != hostabi.KubernetesList:
			t.Fatalf("%q: verb %q accepted", doc, r.Verb)
		case named && r.Name == "", !named && r.Name != "":
			t.Fatalf("%q: name %q accepted for %s", doc, r.Name, r.Verb)
		case withBody != (len(body) > 0):
			t.Fatalf("%q: a body of %d bytes accepted for %s", doc, len(body), r.Verb)
		case strings.ContainsAny(r.Name+r.Namespace, "/%") || r.Name == ".." || r.Namespace == "..":
			t.Fatalf("%q: a name or namespace that leaves its path segment accepted", doc)
		}
	})
}
