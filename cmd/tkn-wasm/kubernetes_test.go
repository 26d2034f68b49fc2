package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"knative.dev/pkg/apis"
)

// apiserver is the little of a kube-apiserver that tkn-wasm run's
// --kubeconfig wiring needs to show: discovery of tekton.dev/v1
// PipelineRuns, and PipelineRuns created and read back, succeeded with
// a result. It records the requests. What a real apiserver does with
// them (RBAC, impersonation) is test/e2e's.
type apiserver struct {
	mu       sync.Mutex
	requests []string
	created  map[string]json.RawMessage
}

func (a *apiserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests = append(a.requests, fmt.Sprintf("%s %s user=%q", r.Method, r.URL.Path, r.Header.Get("Impersonate-User")))
	w.Header().Set("Content-Type", "application/json")
	const prs = "/apis/tekton.dev/v1/namespaces/team/pipelineruns"
	switch {
	case r.URL.Path == "/api":
		fmt.Fprint(w, `{"kind":"APIVersions","versions":["v1"]}`)
	case r.URL.Path == "/apis":
		fmt.Fprint(w, `{"kind":"APIGroupList","groups":[{"name":"tekton.dev","versions":[{"groupVersion":"tekton.dev/v1","version":"v1"}],"preferredVersion":{"groupVersion":"tekton.dev/v1","version":"v1"}}]}`)
	case r.URL.Path == "/api/v1":
		fmt.Fprint(w, `{"kind":"APIResourceList","groupVersion":"v1","resources":[]}`)
	case r.URL.Path == "/apis/tekton.dev/v1":
		fmt.Fprint(w, `{"kind":"APIResourceList","groupVersion":"tekton.dev/v1","resources":[{"name":"pipelineruns","namespaced":true,"kind":"PipelineRun","verbs":["get","create","patch"]}]}`)
	case r.Method == http.MethodPost && r.URL.Path == prs:
		body, _ := io.ReadAll(r.Body)
		a.created["nested"] = body
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	case r.Method == http.MethodGet && r.URL.Path == prs+"/nested" && a.created["nested"] != nil:
		fmt.Fprint(w, `{"metadata":{"name":"nested"},"status":{"conditions":[{"type":"Succeeded","status":"True","reason":"Succeeded"}],"results":[{"name":"major","value":"2"}]}}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"kind":"Status","reason":"NotFound","message":"not found"}`)
	}
}

// TestRunKubeconfig runs the pipeline plugin (capabilities.kubernetes)
// from a plugin directory: without --kubeconfig its requests fail and
// run says why; with one, it acts as the kubeconfig's user (nobody
// impersonated) in the run's namespace; a kubeconfig that cannot be read
// is a usage error.
func TestRunKubeconfig(t *testing.T) {
	plugins, cache := firstPartyDir(t, "pipeline"), t.TempDir()
	api := &apiserver{created: map[string]json.RawMessage{}}
	s := httptest.NewServer(api)
	defer s.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+s.URL+`"}}]
users: [{name: u, user: {token: t0ken}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: team}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	runNested := func(extra ...string) (code int, reason, message string, results map[string]string, stderr string) {
		args := append([]string{"run", "--cache-dir", cache, "-f", "-", "--plugins", plugins, "-o", "json"}, extra...)
		// The example without its namespace: the kubeconfig's applies.
		cr := `{"apiVersion":"tekton.dev/v1beta1","kind":"CustomRun","metadata":{"name":"nested"},"spec":{"customRef":{"apiVersion":"pipelines.tekton-wasm.dev/v1alpha1","kind":"Pipeline"},"params":[{"name":"pipelineRef","value":"inner"}]}}`
		var stdout, errOut bytes.Buffer
		code = run(context.Background(), args, strings.NewReader(cr), &stdout, &errOut)
		results = map[string]string{}
		if code != 2 {
			var out v1beta1.CustomRun
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("%v:\n%s", err, stdout.String())
			}
			if c := out.Status.GetCondition(apis.ConditionSucceeded); c != nil {
				reason, message = c.Reason, c.Message
			}
			for _, r := range out.Status.Results {
				results[r.Name] = r.Value
			}
		}
		return code, reason, message, results, errOut.String()
	}

	code, reason, msg, _, errOut := runNested()
	if code != 1 || reason != "RequestFailed" || !strings.Contains(msg, "tkn-wasm run serves it with --kubeconfig") ||
		!strings.Contains(errOut, `plugin "pipeline" may make Kubernetes requests (capabilities.kubernetes); they fail unless --kubeconfig`) {
		t.Errorf("without --kubeconfig: exit code %d, %s %q\n%s", code, reason, msg, errOut)
	}
	code, reason, msg, results, errOut := runNested("--kubeconfig", kubeconfig)
	if code != 0 || results["major"] != "2" {
		t.Errorf("with --kubeconfig: exit code %d, %s %q, results %v\n%s", code, reason, msg, results, errOut)
	}
	api.mu.Lock()
	for _, r := range api.requests {
		if !strings.HasSuffix(r, `user=""`) {
			t.Errorf("request %s impersonates someone", r)
		}
	}
	if !strings.Contains(fmt.Sprint(api.requests), "POST /apis/tekton.dev/v1/namespaces/team/pipelineruns") {
		t.Errorf("requests %v: no PipelineRun created in the kubeconfig's namespace", api.requests)
	}
	api.mu.Unlock()
	code, _, _, _, errOut = runNested("--kubeconfig", filepath.Join(t.TempDir(), "missing"))
	if code != 2 || !strings.Contains(errOut, "--kubeconfig") {
		t.Errorf("a missing kubeconfig: exit code %d, want 2:\n%s", code, errOut)
	}
}
