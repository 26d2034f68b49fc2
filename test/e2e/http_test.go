//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// httpTimeoutLatency bounds how long after its timeout a run whose HTTP
// request hangs may end, and its request be abandoned (issue 10: "within
// 2 s of it").
const httpTimeoutLatency = 2 * time.Second

// hookToken is the credential the hook server wants, from a Secret
// workspace; it must never show in a run's status.
const hookToken = "Bearer e2e-0d1b2f"

// hookServer is the remote system of TestHTTPRequest, on 127.0.0.1 (the
// controller runs on this machine): it serves
//
//	POST /builds    201 {"data":{"id":"b-42","version":...}} given the
//	                token and a JSON body; 401 without the token
//	GET  /version   200 {"version":"v1.4.2"}
//	GET  /redirect  302 to the URL in its "to" query parameter
//	GET  /flaky?id= 503 the first time for an id, then 200
//	GET  /hang?id=  never answers; records when the request came and went
type hookServer struct {
	*httptest.Server
	mu    sync.Mutex
	hangs map[string]chan hang // by id, made when a /hang request comes; it is sent once the client has gone
	flaky map[string]bool      // the ids /flaky has failed once
}

// hang is what hookServer saw of one /hang request.
type hang struct{ arrived, gone time.Time }

// startHookServer starts a hookServer, serving HTTPS with httptest's
// certificate (for 127.0.0.1) if secure.
func startHookServer(t *testing.T, secure bool) *hookServer {
	s := &hookServer{hangs: map[string]chan hang{}, flaky: map[string]bool{}}
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /builds", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != hookToken {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"no token"}`)
			return
		}
		var in struct{ Version string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON body", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"data":{"id":"b-42","version":%q}}`, in.Version)
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"version":"v1.4.2"}`)
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("GET /flaky", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		failed := s.flaky[r.URL.Query().Get("id")]
		s.flaky[r.URL.Query().Get("id")] = true
		s.mu.Unlock()
		if !failed {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /hang", func(w http.ResponseWriter, r *http.Request) {
		h, gone := hang{arrived: time.Now()}, s.hang(r.URL.Query().Get("id"))
		select {
		case <-r.Context().Done(): // the client closed the connection
		case <-release:
			return
		}
		h.gone = time.Now()
		select {
		case gone <- h:
		default: // a repeated request of that id: the first one counts
		}
	})
	s.Server = httptest.NewUnstartedServer(mux)
	// Not the refused handshakes of UntrustedCertificate in the test's output.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if secure {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(func() {
		close(release)
		s.Close()
	})
	return s
}

// hang returns the channel of the /hang requests with that id.
func (s *hookServer) hang(id string) chan hang {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hangs[id] == nil {
		s.hangs[id] = make(chan hang, 1)
	}
	return s.hangs[id]
}

// arrived reports whether a /hang request with that id came.
func (s *hookServer) arrived(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hangs[id] != nil
}

// abandoned returns what the server saw of the /hang request with that
// id once its client has gone, failing t if that takes over 10s.
func (s *hookServer) abandoned(t *testing.T, id string) hang {
	t.Helper()
	select {
	case h := <-s.hang(id):
		return h
	case <-time.After(10 * time.Second):
		t.Fatalf("the hanging request %s was not abandoned 10s after its run ended", id)
	}
	return hang{}
}

// countingServer answers 200 to everything and counts the requests: the
// host the HTTP plugin is not allowed to reach.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(s.Close)
	return s, &hits
}

// registerHTTPPlugin registers the first-party HTTP plugin under t's own
// apiVersion with capabilities.http.allow set to allow, and returns the
// apiVersion.
func registerHTTPPlugin(t *testing.T, ns string, allow ...string) string {
	t.Helper()
	p := firstPartyPlugin(t, "HTTPRequest")
	p.Capabilities.HTTP = &manifest.HTTPCapability{Allow: allow}
	apiVersion, _ := registerTestManifest(t, pluginDir, ns, p)
	return apiVersion
}

// httpRun is a CustomRun of the HTTP plugin registered under apiVersion.
func httpRun(name, apiVersion string, params ...v1beta1.Param) *v1beta1.CustomRun {
	return &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.CustomRunSpec{
			CustomRef: &v1beta1.TaskRef{APIVersion: apiVersion, Kind: "HTTPRequest"},
			Params:    params,
		},
	}
}

func objectParam(name string, value map[string]string) v1beta1.Param {
	return v1beta1.Param{Name: name, Value: *v1beta1.NewObject(value)}
}

// wantMessage fails t unless the message of cr's Succeeded condition
// contains every one of parts.
func wantMessage(t *testing.T, cr *v1beta1.CustomRun, parts ...string) {
	t.Helper()
	msg := cr.Status.GetCondition(apis.ConditionSucceeded).Message
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("CustomRun %s: message %q does not contain %q", cr.Name, msg, p)
		}
	}
}

// TestHTTPRequest runs the HTTP plugin (plugins/http) in the controller
// against servers the test starts on 127.0.0.1, its manifest allowing
// exactly the hook servers' addresses (loopback needs an entry naming the
// IP and port, or the host: localhost:PORT):
//   - Allowed: a POST with headers from a param and from a Secret
//     workspace succeeds with the status, body and JSON-picked results;
//     without the Secret the server's 401 ends UnexpectedStatus;
//   - Localhost: the entry localhost:PORT reaches 127.0.0.1;
//   - Retried: a 503 fails attempt 1, spec.retries runs attempt 2;
//   - NotAllowed, RedirectNotAllowed: another port, the plugin as
//     shipped (allow: []), and a redirect to another port end
//     HostNotAllowed, the other server seeing no request;
//   - UntrustedCertificate: an allowed HTTPS server whose certificate no
//     trusted CA signed ends RequestFailed;
//   - HangStoppedByTimeout, HangCancelled: a request that hangs is
//     abandoned at the run's timeout, or when the run is cancelled;
//   - Pipeline: the HTTP task's result feeds a SemVer task and the
//     pipeline's results.
func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	hook, secure := startHookServer(t, false), startHookServer(t, true)
	other, otherHits := countingServer(t)
	hookAddr, otherAddr := hook.Listener.Addr().String(), other.Listener.Addr().String()
	_, hookPort, _ := net.SplitHostPort(hookAddr)
	apiVersion := registerHTTPPlugin(t, ns, hookAddr, secure.Listener.Addr().String(), "localhost:"+hookPort)

	t.Run("Allowed", func(t *testing.T) {
		t.Parallel()
		allowedWithSecret(t, ns, apiVersion, hook.URL)
	})
	t.Run("Localhost", func(t *testing.T) {
		t.Parallel()
		// An entry naming a host exactly reaches the loopback address it
		// resolves to.
		createCustomRun(t, ns, httpRun("localhost", apiVersion, stringParam("url", "http://localhost:"+hookPort+"/version")))
		cr := waitDone(t, ns, "localhost", 60*time.Second)
		wantCondition(t, cr, corev1.ConditionTrue, "Succeeded")
		wantResults(t, cr, map[string]string{"status": "200", "body": `{"version":"v1.4.2"}`})
	})
	t.Run("Retried", func(t *testing.T) {
		t.Parallel()
		// Retries are the host's: the 503 fails attempt 1, attempt 2 gets 200.
		run := httpRun("retried", apiVersion, stringParam("url", hook.URL+"/flaky?id=retried"))
		run.Spec.Retries = 1
		createCustomRun(t, ns, run)
		cr := waitDone(t, ns, "retried", 60*time.Second)
		wantCondition(t, cr, corev1.ConditionTrue, "Succeeded")
		if len(cr.Status.RetriesStatus) != 1 {
			t.Fatalf("retriesStatus = %+v, want the failed first attempt", cr.Status.RetriesStatus)
		}
		if c := cr.Status.RetriesStatus[0].GetCondition(apis.ConditionSucceeded); c == nil || c.Reason != "UnexpectedStatus" || !strings.Contains(c.Message, "answered 503") {
			t.Errorf("attempt 1 ended %+v, want UnexpectedStatus for the 503", c)
		}
	})
	t.Run("NotAllowed", func(t *testing.T) {
		t.Parallel()
		createCustomRun(t, ns, httpRun("other-port", apiVersion, stringParam("url", other.URL+"/secret-path?token=x")))
		// The plugin as registered for the cluster (TestMain) allows nothing.
		createCustomRun(t, ns, httpRun("shipped", "http.tekton-wasm.dev/v1alpha1", stringParam("url", hook.URL+"/version")))

		cr := waitDone(t, ns, "other-port", 60*time.Second)
		wantCondition(t, cr, corev1.ConditionFalse, "HostNotAllowed")
		wantMessage(t, cr, "http://"+otherAddr+" is not allowed", "capabilities.http.allow", `add "`+otherAddr+`"`)
		if msg := cr.Status.GetCondition(apis.ConditionSucceeded).Message; strings.Contains(msg, "secret-path") || strings.Contains(msg, "token=x") {
			t.Errorf("the message shows the URL's path or query: %q", msg)
		}
		cr = waitDone(t, ns, "shipped", 60*time.Second)
		wantCondition(t, cr, corev1.ConditionFalse, "HostNotAllowed")
		wantMessage(t, cr, "http://"+hookAddr+" is not allowed", "capabilities.http.allow")
		if n := otherHits.Load(); n != 0 {
			t.Errorf("the server not allowed got %d requests", n)
		}
	})
	t.Run("RedirectNotAllowed", func(t *testing.T) {
		t.Parallel()
		createCustomRun(t, ns, httpRun("redirect", apiVersion, stringParam("url", hook.URL+"/redirect?to="+other.URL+"/target")))
		cr := waitDone(t, ns, "redirect", 60*time.Second)
		wantCondition(t, cr, corev1.ConditionFalse, "HostNotAllowed")
		wantMessage(t, cr, "http://"+hookAddr+" redirected to http://"+otherAddr+" is not allowed", "capabilities.http.allow")
		if n := otherHits.Load(); n != 0 {
			t.Errorf("the server not allowed got %d requests", n)
		}
	})
	t.Run("UntrustedCertificate", func(t *testing.T) {
		t.Parallel()
		// Allowed, but its certificate is signed by no CA the plugin
		// trusts (TestHTTPRequestCABundle adds it).
		createCustomRun(t, ns, httpRun("untrusted", apiVersion, stringParam("url", secure.URL+"/version")))
		cr := waitDone(t, ns, "untrusted", 60*time.Second)
		wantCondition(t, cr, corev1.ConditionFalse, "RequestFailed")
		wantMessage(t, cr, "GET "+secure.URL, "certificate")
	})
	t.Run("HangStoppedByTimeout", func(t *testing.T) {
		t.Parallel()
		hangStoppedByTimeout(t, ns, apiVersion, hook)
	})
	t.Run("HangCancelled", func(t *testing.T) {
		t.Parallel()
		hangCancelled(t, ns, apiVersion, hook)
	})
	t.Run("Pipeline", func(t *testing.T) {
		t.Parallel()
		httpInPipeline(t, ns, apiVersion, hook.URL)
	})
}

// allowedWithSecret: a POST to the hook server with a header from a param
// and the token from a Secret workspace succeeds with status, body and
// the values jsonResults picks; without the workspace the server answers
// 401, which ends UnexpectedStatus.
func allowedWithSecret(t *testing.T, ns, apiVersion, url string) {
	ctx := context.Background()
	// The token has a trailing newline, as `kubectl create secret
	// --from-file` often leaves; the plugin trims it.
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hook-token"},
		StringData: map[string]string{"Authorization": hookToken + "\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The controller reads a secret workspace only if the run's service
	// account may get the Secret.
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "read-hook-token"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"hook-token"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read-hook-token"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-hook-token"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	post := func(name string) *v1beta1.CustomRun {
		return httpRun(name, apiVersion,
			stringParam("url", url+"/builds"),
			stringParam("method", "POST"),
			stringParam("body", `{"version":"1.4.2"}`),
			objectParam("headers", map[string]string{"Content-Type": "application/json"}),
			stringParam("expectStatus", "200,201"),
			objectParam("jsonResults", map[string]string{"id": "/data/id", "data": "/data"}),
		)
	}
	withSecret := post("post")
	withSecret.Spec.Workspaces = []v1beta1.WorkspaceBinding{{Name: "headers", Secret: &corev1.SecretVolumeSource{SecretName: "hook-token"}}}
	createCustomRun(t, ns, withSecret)
	createCustomRun(t, ns, post("no-token"))

	cr := waitDone(t, ns, "post", 60*time.Second)
	wantCondition(t, cr, corev1.ConditionTrue, "Succeeded")
	wantMessage(t, cr, "POST "+url+" answered 201")
	wantResults(t, cr, map[string]string{
		"status": "201",
		"body":   `{"data":{"id":"b-42","version":"1.4.2"}}`,
		"id":     "b-42",
		"data":   `{"id":"b-42","version":"1.4.2"}`,
	})
	status, _ := json.Marshal(cr.Status)
	if strings.Contains(string(status), strings.TrimPrefix(hookToken, "Bearer ")) {
		t.Errorf("the token from the Secret shows in the run's status: %s", status)
	}

	cr = waitDone(t, ns, "no-token", 60*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, "UnexpectedStatus")
	wantMessage(t, cr, "answered 401", "expected 200,201", "no token")
}

// hangStoppedByTimeout: a request to a server that never answers is
// abandoned at the run's timeout, and the run ends CustomRunTimedOut,
// both within httpTimeoutLatency of the deadline: the status's startTime
// plus the timeout. startTime has whole seconds only; the controller's
// deadline is no earlier than that (it counts from the startTime it
// stored, or from the instant it set), so the gaps measured from it are
// upper bounds, and neither may be negative.
func hangStoppedByTimeout(t *testing.T, ns, apiVersion string, hook *hookServer) {
	const timeout = 2 * time.Second
	run := httpRun("hang", apiVersion, stringParam("url", hook.URL+"/hang?id=timeout"))
	run.Spec.Timeout = &metav1.Duration{Duration: timeout}
	created := time.Now()
	cr := createCustomRun(t, ns, run)

	cr, ended := watchDone(t, ns, cr, 60*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, "CustomRunTimedOut")
	if n := len(cr.Status.RetriesStatus); n != 0 {
		t.Errorf("retriesStatus has %d entries; the run has no retries", n)
	}
	h := hook.abandoned(t, "timeout")
	deadline := cr.Status.StartTime.Add(timeout)
	took := cr.Status.CompletionTime.Sub(cr.Status.StartTime.Time)
	t.Logf("timeout %s: request sent %s after the run's creation, abandoned %s after the deadline (startTime + timeout), run ended %s after it; completionTime − startTime = %s",
		timeout, h.arrived.Sub(created).Round(time.Millisecond), h.gone.Sub(deadline).Round(time.Millisecond),
		ended.Sub(deadline).Round(time.Millisecond), took)
	for what, at := range map[string]time.Time{"the hanging request was abandoned": h.gone, "the run ended": ended} {
		if gap := at.Sub(deadline); gap < 0 || gap > httpTimeoutLatency {
			t.Errorf("%s %s after the run's deadline (startTime + timeout), want 0 to %s", what, gap, httpTimeoutLatency)
		}
	}
	// Both are whole seconds.
	if took < timeout || took > timeout+httpTimeoutLatency+time.Second {
		t.Errorf("completionTime − startTime = %s, want %s to %s", took, timeout, timeout+httpTimeoutLatency+time.Second)
	}
}

// hangCancelled: cancelling a run (spec.status RunCancelled, as Tekton
// does) whose request hangs abandons the request and ends the run
// CustomRunCancelled, both within cancelLatency.
func hangCancelled(t *testing.T, ns, apiVersion string, hook *hookServer) {
	cr := createCustomRun(t, ns, httpRun("cancel", apiVersion, stringParam("url", hook.URL+"/hang?id=cancel")))
	eventually(t, 60*time.Second, "the request to hang", func(ctx context.Context) (bool, error) {
		return hook.arrived("cancel"), nil
	})
	patch := []byte(`{"spec":{"status":"` + v1beta1.CustomRunSpecStatusCancelled + `","statusMessage":"cancelled by the e2e test"}}`)
	cancelled := time.Now()
	if _, err := tekton.TektonV1beta1().CustomRuns(ns).Patch(context.Background(), cr.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	cr, ended := watchDone(t, ns, cr, 30*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, v1beta1.CustomRunReasonCancelled.String())
	wantMessage(t, cr, "cancelled by the e2e test")
	h := hook.abandoned(t, "cancel")
	t.Logf("cancelled: request abandoned %s after the patch, run ended %s after it",
		h.gone.Sub(cancelled).Round(time.Millisecond), ended.Sub(cancelled).Round(time.Millisecond))
	for what, at := range map[string]time.Time{"the hanging request was abandoned": h.gone, "the run ended": ended} {
		if gap := at.Sub(cancelled); gap > cancelLatency {
			t.Errorf("%s %s after the run was cancelled, want at most %s", what, gap, cancelLatency)
		}
	}
}

// watchDone follows cr from the version given until its Succeeded
// condition is final, and returns it and when the watch saw it so.
func watchDone(t *testing.T, ns string, cr *v1beta1.CustomRun, timeout time.Duration) (*v1beta1.CustomRun, time.Time) {
	t.Helper()
	cr = watchRun(t, ns, cr, timeout, func(cr *v1beta1.CustomRun) bool { return cr.IsDone() })
	return cr, time.Now()
}

// httpInPipeline: a Pipeline whose first task is the HTTP kind; the
// version it picks out of the answer feeds a SemVer task, and both tasks'
// results become pipeline results.
//
//	fetch (HTTPRequest, taskRef; url from the pipeline's params) ─► parse (SemVer, version from fetch's results)
func httpInPipeline(t *testing.T, ns, apiVersion, url string) {
	str := func(s string) pipelinev1.ParamValue { return *pipelinev1.NewStructuredValues(s) }
	pipeline := &pipelinev1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "fetch-version"},
		Spec: pipelinev1.PipelineSpec{
			Params: pipelinev1.ParamSpecs{{Name: "url", Type: pipelinev1.ParamTypeString}},
			Tasks: []pipelinev1.PipelineTask{{
				Name:    "fetch",
				TaskRef: &pipelinev1.TaskRef{APIVersion: apiVersion, Kind: "HTTPRequest"},
				Params: pipelinev1.Params{
					{Name: "url", Value: str("$(params.url)")},
					{Name: "jsonResults", Value: *pipelinev1.NewObject(map[string]string{"version": "/version"})},
				},
			}, {
				Name:    "parse",
				TaskRef: &pipelinev1.TaskRef{APIVersion: semverAPIVersion, Kind: "SemVer"},
				Params:  pipelinev1.Params{{Name: "version", Value: str("$(tasks.fetch.results.version)")}},
			}},
			Results: []pipelinev1.PipelineResult{
				{Name: "status", Value: str("$(tasks.fetch.results.status)")},
				{Name: "version", Value: str("$(tasks.fetch.results.version)")},
				{Name: "major", Value: str("$(tasks.parse.results.major)")},
			},
		},
	}
	runPipeline(t, ns, pipeline, pipelinev1.Params{{Name: "url", Value: str(url + "/version")}},
		map[string]string{"status": "200", "version": "v1.4.2", "major": "1"})
}

// TestHTTPRequestCABundle: a plugin whose manifest names a CA bundle
// (capabilities.http.caBundle, a ConfigMap key in the controller's
// namespace) trusts a server whose certificate that CA signed, which the
// same plugin without it refuses (TestHTTPRequest/UntrustedCertificate).
func TestHTTPRequestCABundle(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	secure := startHookServer(t, true)
	ca := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-ca", Namespace: controllerNamespace},
		Data:       map[string]string{"ca.crt": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw}))},
	}
	cms := kube.CoreV1().ConfigMaps(controllerNamespace)
	if _, err := cms.Create(ctx, ca, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), ca.Name, metav1.DeleteOptions{}) })
	// The bundle is read when the plugin loads: it exists before.
	p := firstPartyPlugin(t, "HTTPRequest")
	p.Capabilities.HTTP = &manifest.HTTPCapability{
		Allow:    []string{secure.Listener.Addr().String()},
		CABundle: &manifest.ConfigMapKey{ConfigMap: ca.Name, Key: "ca.crt"},
	}
	apiVersion, _ := registerTestManifest(t, pluginDir, ns, p)

	createCustomRun(t, ns, httpRun("trusted", apiVersion,
		stringParam("url", secure.URL+"/version"),
		objectParam("jsonResults", map[string]string{"version": "/version"})))
	cr := waitDone(t, ns, "trusted", 60*time.Second)
	wantCondition(t, cr, corev1.ConditionTrue, "Succeeded")
	wantResults(t, cr, map[string]string{"status": "200", "body": `{"version":"v1.4.2"}`, "version": "v1.4.2"})
}
