package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"knative.dev/pkg/apis"

	"github.com/tekton-wasm/tekton-wasm/internal/apiservertest"
)

// pipelineRuns answers the pipeline plugin's requests in namespace
// team: a PipelineRun created, then read back succeeded with a result.
func pipelineRuns(w http.ResponseWriter, r *http.Request) {
	const prs = "/apis/tekton.dev/v1/namespaces/team/pipelineruns"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == prs:
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	case r.Method == http.MethodGet && r.URL.Path == prs+"/nested":
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
	s := apiservertest.New(t, []apiservertest.Resource{{GroupVersion: "tekton.dev/v1", Name: "pipelineruns", Kind: "PipelineRun", Namespaced: true}}, pipelineRuns)
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
	requests := s.Requests()
	for _, r := range requests {
		if r.User != "" {
			t.Errorf("request %+v impersonates someone", r)
		}
	}
	if !slices.Contains(requests, apiservertest.Request{Method: "POST", Path: "/apis/tekton.dev/v1/namespaces/team/pipelineruns"}) {
		t.Errorf("requests %v: no PipelineRun created in the kubeconfig's namespace", requests)
	}
	code, _, _, _, errOut = runNested("--kubeconfig", filepath.Join(t.TempDir(), "missing"))
	if code != 2 || !strings.Contains(errOut, "--kubeconfig") {
		t.Errorf("a missing kubeconfig: exit code %d, want 2:\n%s", code, errOut)
	}
}
