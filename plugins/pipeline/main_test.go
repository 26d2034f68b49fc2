package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
	"github.com/tekton-wasm/tekton-wasm/plugins/internal/plugintest"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
)

// cluster is the apiserver as the plugin sees it through the host: the
// PipelineRuns of the run's namespace, by name. The host's side (rules,
// identity, namespace) is runtime/capability/kubecap's, tested there and
// on the rig (test/e2e/pipelineplugin_test.go).
type cluster struct {
	runs      map[string]map[string]any
	forbidden string // a verb the run's account may not use
	status    int    // if set, every answer's status
	requests  []string
}

func (c *cluster) do(r *hostabi.KubernetesRequest, body []byte) (*guest.KubernetesResponse, error) {
	c.requests = append(c.requests, r.Verb+" "+r.Name)
	if r.APIVersion != "tekton.dev/v1" || r.Kind != "PipelineRun" || r.Namespace != "" {
		return nil, fmt.Errorf("unexpected request %+v", r)
	}
	answer := func(status int, v any) (*guest.KubernetesResponse, error) {
		b, _ := json.Marshal(v)
		return &guest.KubernetesResponse{Status: status, Body: b}, nil
	}
	switch {
	case c.status != 0:
		return answer(c.status, map[string]string{"reason": "ServiceUnavailable", "message": "try later"})
	case r.Verb == c.forbidden:
		return answer(403, map[string]string{"reason": "Forbidden", "message": `pipelineruns.tekton.dev is forbidden: User "system:serviceaccount:ns:builder" cannot ` + r.Verb + ` resource "pipelineruns"`})
	}
	switch r.Verb {
	case hostabi.KubernetesCreate:
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, err
		}
		name := obj["metadata"].(map[string]any)["name"].(string)
		if c.runs[name] != nil {
			return answer(409, map[string]string{"reason": "AlreadyExists", "message": "exists"})
		}
		c.runs[name] = obj
		return answer(201, obj)
	case hostabi.KubernetesGet:
		if c.runs[r.Name] == nil {
			return answer(404, map[string]string{"reason": "NotFound", "message": "not found"})
		}
		return answer(200, c.runs[r.Name])
	case hostabi.KubernetesPatch:
		if c.runs[r.Name] == nil {
			return answer(404, map[string]string{"reason": "NotFound", "message": "not found"})
		}
		if string(body) != `{"spec":{"status":"Cancelled"}}` || r.PatchType != "" {
			return nil, fmt.Errorf("unexpected patch %s", body)
		}
		c.runs[r.Name]["spec"].(map[string]any)["status"] = "Cancelled"
		return answer(200, c.runs[r.Name])
	}
	return nil, fmt.Errorf("unexpected verb %s", r.Verb)
}

// finish sets the child's Succeeded condition and results.
func (c *cluster) finish(name, status, reason, message string, results ...any) {
	c.runs[name]["status"] = map[string]any{
		"conditions": []any{map[string]any{"type": "Succeeded", "status": status, "reason": reason, "message": message}},
		"results":    results,
	}
}

func request(params ...hostabi.Param) *hostabi.Request {
	return &hostabi.Request{
		ABIVersion: hostabi.Version,
		Run:        hostabi.RunIdentity{Name: "outer-inner", Namespace: "ns", UID: "uid-1", ServiceAccountName: "builder"},
		APIVersion: "pipelines.tekton-wasm.dev/v1alpha1", Kind: "Pipeline",
		Params:  append([]hostabi.Param{{Name: "pipelineRef", Value: hostabi.StringValue("inner")}}, params...),
		Attempt: 1,
	}
}

// next is the request of the call after resp (a Running answer).
func next(t *testing.T, req *hostabi.Request, resp *hostabi.Response, err error) *hostabi.Request {
	t.Helper()
	if err != nil || resp.Status != hostabi.StatusRunning || resp.Reason != "Running" || resp.RequeueAfter.Duration <= 0 {
		t.Fatalf("want Running with requeueAfter, got %+v, %v", resp, err)
	}
	again := *req
	again.ExtraFields = resp.ExtraFields
	return &again
}

func TestChildRun(t *testing.T) {
	c := &cluster{runs: map[string]map[string]any{}}
	req := request(hostabi.Param{Name: "version", Value: hostabi.StringValue("v1")}, hostabi.Param{Name: "targets", Value: hostabi.ArrayValue("a", "b")})
	resp, err := run(req, c.do)
	req = next(t, req, resp, err)
	child := c.runs["outer-inner"]
	if child == nil {
		t.Fatalf("no child named after the run: %v", c.runs)
	}
	got, _ := json.Marshal(child)
	for _, want := range []string{
		`"ownerReferences":[{"apiVersion":"tekton.dev/v1beta1","controller":true,"kind":"CustomRun","name":"outer-inner","uid":"uid-1"}]`,
		`"params":[{"name":"version","value":"v1"},{"name":"targets","value":["a","b"]}]`,
		`"pipelineRef":{"name":"inner"}`,
		`"taskRunTemplate":{"serviceAccountName":"builder"}`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("child %s lacks %s", got, want)
		}
	}
	// Polled while it runs.
	c.finish("outer-inner", "Unknown", "Running", "Tasks Completed: 1 (Failed: 0, Cancelled 0), Skipped: 0")
	resp, err = run(req, c.do)
	req = next(t, req, resp, err)
	if !strings.Contains(resp.Message, "PipelineRun ns/outer-inner: Running: Tasks Completed: 1") {
		t.Errorf("running message %q", resp.Message)
	}
	// Its results become the run's.
	c.finish("outer-inner", "True", "Succeeded", "All Tasks have completed executing",
		map[string]any{"name": "digest", "value": "sha256:abc"}, map[string]any{"name": "list", "value": []string{"x", "y"}})
	resp, err = run(req, c.do)
	if err != nil || resp.Status != hostabi.StatusSucceeded || fmt.Sprint(resp.Results) != "[{digest sha256:abc} {list [\"x\",\"y\"]}]" {
		t.Fatalf("succeeded: %+v, %v", resp, err)
	}
	if fmt.Sprint(c.requests) != "[create  get outer-inner get outer-inner]" {
		t.Errorf("requests %v", c.requests)
	}
}

// TestRepeatedCall: a call repeated without the extraFields of the call
// that created the child (the controller restarted before it recorded
// them) finds the child and creates no second one.
func TestRepeatedCall(t *testing.T) {
	c := &cluster{runs: map[string]map[string]any{}}
	if resp, err := run(request(), c.do); err != nil || resp.Status != hostabi.StatusRunning {
		t.Fatal(resp, err)
	}
	c.finish("outer-inner", "False", "Failed", "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0")
	_, err := run(request(), c.do)
	plugintest.WantFail(t, err, "PipelineRunFailed", "PipelineRun ns/outer-inner failed: Failed: Tasks Completed: 1 (Failed: 1")
	if len(c.runs) != 1 || fmt.Sprint(c.requests) != "[create  create  get outer-inner]" {
		t.Errorf("runs %d, requests %v", len(c.runs), c.requests)
	}
	// A PipelineRun of that name that is not the run's is not taken.
	other := request()
	other.Run.UID = "uid-2"
	_, err = run(other, c.do)
	plugintest.WantFail(t, err, "PipelineRunNotOwned", "PipelineRun ns/outer-inner exists and is not this run's")
	// Outside the cluster (no uid), an existing child is not taken
	// either.
	local := request()
	local.Run.UID = ""
	_, err = run(local, c.do)
	plugintest.WantFail(t, err, "PipelineRunNotOwned", "a run outside the cluster cannot tell")
	// A retry makes a child of its own.
	retry := request()
	retry.Attempt = 2
	if resp, err := run(retry, c.do); err != nil || resp.Status != hostabi.StatusRunning || c.runs["outer-inner-retry1"] == nil {
		t.Fatal(resp, err)
	}
}

func TestCleanup(t *testing.T) {
	c := &cluster{runs: map[string]map[string]any{}}
	req := request()
	resp, err := run(req, c.do)
	req = next(t, req, resp, err)
	req.Cleanup = &hostabi.Cleanup{Reason: hostabi.CleanupCancelled}
	resp, err = run(req, c.do)
	if err != nil || c.runs["outer-inner"]["spec"].(map[string]any)["status"] != "Cancelled" || resp.Message != "Cancelled: cancelled PipelineRun ns/outer-inner" {
		t.Fatalf("clean-up: %+v, %v; child %v", resp, err, c.runs["outer-inner"])
	}
	gone := request()
	gone.Cleanup = &hostabi.Cleanup{Reason: hostabi.CleanupTimedOut}
	gone.Run.Name = "never-created"
	if resp, err := run(gone, c.do); err != nil || !strings.Contains(resp.Message, "does not exist; nothing to cancel") {
		t.Errorf("clean-up without a child: %+v, %v", resp, err)
	}
}

func TestFailures(t *testing.T) {
	c := &cluster{runs: map[string]map[string]any{}, forbidden: "create"}
	_, err := run(request(), c.do)
	plugintest.WantFail(t, err, "PipelineRunForbidden", `the run's service account "builder" may not create pipelineruns (API group tekton.dev) in namespace "ns": grant it create on pipelineruns`,
		`cannot create resource "pipelineruns"`)

	// The apiserver unavailable: try again later.
	c = &cluster{runs: map[string]map[string]any{}, status: 503}
	resp, err := run(request(), c.do)
	next(t, request(), resp, err)

	// The child deleted while the run waited.
	c = &cluster{runs: map[string]map[string]any{}}
	resp, err = run(request(), c.do)
	req := next(t, request(), resp, err)
	delete(c.runs, "outer-inner")
	_, err = run(req, c.do)
	plugintest.WantFail(t, err, "PipelineRunNotFound", "was deleted while the run waited")

	// The host refused (no Kubernetes served, or outside the manifest).
	_, err = run(request(), func(*hostabi.KubernetesRequest, []byte) (*guest.KubernetesResponse, error) {
		return nil, &hostabi.Error{Errno: hostabi.ErrnoNotCapable, Message: "the host serves no Kubernetes to this call"}
	})
	plugintest.WantFail(t, err, "RequestFailed", "create PipelineRun ns/outer-inner: the host serves no Kubernetes")

	for _, tc := range []struct {
		req    *hostabi.Request
		reason string
	}{
		{&hostabi.Request{Run: hostabi.RunIdentity{Name: "r"}}, "MissingParam"},
		{&hostabi.Request{Run: hostabi.RunIdentity{Name: "r"}, Params: []hostabi.Param{{Name: "pipelineRef", Value: hostabi.StringValue("Bad_Name")}}}, "InvalidPipelineRef"},
		{&hostabi.Request{Run: hostabi.RunIdentity{Name: "r"}, Spec: json.RawMessage(`{}`)}, "UnexpectedSpec"},
	} {
		_, err := run(tc.req, c.do)
		plugintest.WantFail(t, err, tc.reason)
	}
}

func TestChildName(t *testing.T) {
	long := strings.Repeat("a", 70)
	for _, tc := range []struct {
		run     string
		attempt int
		want    string
	}{
		{"outer-inner", 1, "outer-inner"},
		{"outer-inner", 3, "outer-inner-retry2"},
		{long, 1, long[:54] + "-" + childName(long, 1)[55:]},
	} {
		if got := childName(tc.run, tc.attempt); got != tc.want || len(got) > maxNameLength {
			t.Errorf("childName(%q, %d) = %q, want %q", tc.run, tc.attempt, got, tc.want)
		}
	}
	if childName(long, 1) == childName(long+"b", 1) {
		t.Error("two long names share a child name")
	}
}

// TestPlugin loads the built module under its manifest (which grants
// the kubernetes capability it imports) and calls it where the host
// serves no Kubernetes (tkn-wasm run without --kubeconfig).
func TestPlugin(t *testing.T) {
	p := plugintest.Load(t, ".")
	resp := p.InvokeWith(t, request(), engine.Invocation{})
	if resp.Status != hostabi.StatusFailed || resp.Reason != "RequestFailed" || !strings.Contains(resp.Message, "the host serves no Kubernetes to this call") {
		t.Errorf("%s %s %q", resp.Status, resp.Reason, resp.Message)
	}
}
