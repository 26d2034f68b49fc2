package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
	"k8s.io/client-go/rest"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/apiservertest"
	"github.com/tekton-wasm/tekton-wasm/internal/hangserver"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
)

// fetchWAT is a command plugin that sends one request (doc) with the
// tekton functions and writes the response body to stdout, which the
// tests' servers make a Response. A failing host function ends it with
// its errno as exit code, its last_error on stderr. out is where
// http_request writes (64, or outside memory); short shortens the buffer
// buffer_read is given; closeAgain closes the body's buffer a second
// time, after the response.
const fetchWAT = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "tekton" "http_request" (func $request (param i32 i32 i32 i32 i32) (result i32)))
  (import "tekton" "buffer_read" (func $read (param i32 i32 i32) (result i32)))
  (import "tekton" "buffer_close" (func $close (param i32) (result i32)))
  (import "tekton" "last_error" (func $last_error (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 1024) "%s")
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 96) (local.get $ptr))
    (i32.store (i32.const 100) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 96) (i32.const 1) (i32.const 104))))
  (func $check (param $errno i32)
    (if (local.get $errno) (then
      (call $write (i32.const 2) (i32.const 2048) (call $last_error (i32.const 2048) (i32.const 1024)))
      (call $proc_exit (local.get $errno)))))
  (func (export "_start")
    (call $check (call $request (i32.const 1024) (i32.const %d) (i32.const 0) (i32.const 0) (i32.const %d)))
    (call $check (call $read (i32.load (i32.const 76)) (i32.const 8192) (i32.sub (i32.load (i32.const 80)) (i32.const %d))))
    (call $write (i32.const 1) (i32.const 8192) (i32.load (i32.const 80)))
    (call $check (call $close (i32.load (i32.const 76))))%s))
`

// fetchPlugin compiles fetchWAT for a GET of u under grants.
func fetchPlugin(t *testing.T, e *Engine, u string, out, short int, closeAgain bool, grants Grants) (*CompiledPlugin, error) {
	t.Helper()
	doc, _ := json.Marshal(hostabi.HTTPRequest{URL: u})
	again := ""
	if closeAgain {
		again = "\n    (call $check (call $close (i32.load (i32.const 76))))"
	}
	src := fmt.Sprintf(fetchWAT, strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(string(doc)), len(doc), out, short, again)
	path := filepath.Join(t.TempDir(), "fetch.wat")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := e.Compile(context.Background(), wasmtest.WAT(t, path), Limits{Grants: grants})
	if p != nil {
		t.Cleanup(func() { p.Close(context.Background()) })
	}
	return p, err
}

// responder answers every request with a Succeeded Response whose
// result "got" is the request's path.
var responder = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, `{"status":"Succeeded","results":[{"name":"got","value":%q}]}`, r.URL.Path)
})

// allowing returns a client allowing the host:port of server URL u.
func allowing(t *testing.T, u string) *httpcap.Client {
	t.Helper()
	pu, _ := url.Parse(u)
	allow, err := httpcap.ParseAllow([]string{pu.Host})
	if err != nil {
		t.Fatal(err)
	}
	c, err := httpcap.New(httpcap.Policy{Allow: allow}, httpcap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestCapabilityGrantedAtCompile(t *testing.T) {
	e := sharedEngine(t)
	_, err := fetchPlugin(t, e, "http://example.com/", 64, 0, false, Grants{})
	want := "the plugin imports tekton.http_request, which needs the http capability, and its manifest does not grant it: grant it with capabilities.http"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Compile without the grant = %v, want %q", err, want)
	}
	// The same module under the grant shares the compiled code, not the
	// refusal.
	if _, err := fetchPlugin(t, e, "http://example.com/", 64, 0, false, Grants{HTTP: true}); err != nil {
		t.Fatalf("Compile with the grant: %v", err)
	}
	// The functions of no capability need no grant.
	if _, err := e.Compile(context.Background(), wat(t, "import_buffer"), Limits{}); err != nil {
		t.Fatalf("a module importing buffer_read only: %v", err)
	}
	for name, want := range map[string]string{
		"import_tekton":        "the plugin imports tekton.http_get, a host capability ABI tekton-wasm/v1 does not provide (it provides buffer_close, buffer_read, http_request, kubernetes_request, last_error)",
		"import_tekton_badsig": "the plugin imports tekton.http_request as (i32, i32) -> (i32), but its signature is (i32, i32, i32, i32, i32) -> (i32)",
	} {
		if _, err := e.Compile(context.Background(), wat(t, name), Limits{Grants: Grants{HTTP: true}}); err == nil || err.Error() != want {
			t.Errorf("%s: Compile = %v, want %q", name, err, want)
		}
	}
}

// TestKubernetesGrant: kubernetes_request needs capabilities.kubernetes
// to load, and a call the host serves no session gets ENOTCAPABLE (8).
// What a session does is runtime/capability/kubecap's, and on a real
// apiserver test/e2e's.
func TestKubernetesGrant(t *testing.T) {
	e := sharedEngine(t)
	want := "the plugin imports tekton.kubernetes_request, which needs the kubernetes capability, and its manifest does not grant it: grant it with capabilities.kubernetes"
	if _, err := e.Compile(context.Background(), wat(t, "import_kubernetes"), Limits{Grants: Grants{HTTP: true}}); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Compile without the grant = %v, want %q", err, want)
	}
	p, err := e.Compile(context.Background(), wat(t, "import_kubernetes"), Limits{Grants: Grants{Kubernetes: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	wantFailed(t, invoke(t, p, request(), Invocation{}), hostabi.ReasonExited, "exited with code 8", "the host serves no Kubernetes to this call")
}

// TestKubernetesCapabilityCancel: a Kubernetes request the apiserver
// does not answer is abandoned when the run is cancelled or its deadline
// passes, and the plugin stopped, within the same bound as HTTP.
func TestKubernetesCapabilityCancel(t *testing.T) {
	api := apiservertest.New(t, []apiservertest.Resource{{GroupVersion: "v1", Name: "configmaps", Kind: "ConfigMap", Namespaced: true}},
		func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	client, err := kubecap.New(&rest.Config{Host: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	session := func() Invocation {
		return Invocation{Kubernetes: client.Session([]kubecap.Rule{{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"*"}}}, kubecap.Identity{Namespace: "ns"}, kubecap.Options{})}
	}
	p, err := sharedEngine(t).Compile(context.Background(), wat(t, "import_kubernetes"), Limits{Grants: Grants{Kubernetes: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	var ended time.Time
	time.AfterFunc(100*time.Millisecond, func() { ended = time.Now(); cancel() })
	_, err = p.Invoke(ctx, request(), session())
	wantCtxErr(t, err, context.Canceled, ended, time.Now(), 2*time.Second)

	deadline := time.Now().Add(100 * time.Millisecond)
	ctx, cancel = context.WithDeadline(context.Background(), deadline)
	defer cancel()
	_, err = p.Invoke(ctx, request(), session())
	wantCtxErr(t, err, context.DeadlineExceeded, deadline, time.Now(), 2*time.Second)
}

func TestHTTPCapability(t *testing.T) {
	s := httptest.NewServer(responder)
	defer s.Close()
	e := sharedEngine(t)

	p, err := fetchPlugin(t, e, s.URL+"/hello", 64, 0, false, Grants{HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := results(t, invoke(t, p, request(), Invocation{HTTP: allowing(t, s.URL)})); got["got"] != "/hello" {
		t.Errorf("results %v", got)
	}

	// Denied: EDENIED (3), and last_error says what to change.
	wantFailed(t, invoke(t, p, request(), Invocation{HTTP: allowing(t, "http://example.com")}),
		hostabi.ReasonExited, "exited with code 3", "is not allowed", httpcap.DefaultSetting)
	// No client for the call: ENOTCAPABLE (8).
	wantFailed(t, invoke(t, p, request(), Invocation{}), hostabi.ReasonExited, "exited with code 8", "the host serves no HTTP to this call")
	// out_ptr outside memory: EFAULT (2), before any request.
	p, _ = fetchPlugin(t, e, s.URL+"/x", 2*65536-8, 0, false, Grants{HTTP: true})
	wantFailed(t, invoke(t, p, request(), Invocation{HTTP: allowing(t, s.URL)}), hostabi.ReasonExited, "exited with code 2", "outside the plugin's memory")
	// A buffer one byte short: ERANGE (9).
	p, _ = fetchPlugin(t, e, s.URL+"/x", 64, 1, false, Grants{HTTP: true})
	wantFailed(t, invoke(t, p, request(), Invocation{HTTP: allowing(t, s.URL)}), hostabi.ReasonExited, "exited with code 9", "gave room for")
}

func TestBufferClosedTwice(t *testing.T) {
	s := httptest.NewServer(responder)
	defer s.Close()
	p, err := fetchPlugin(t, sharedEngine(t), s.URL+"/x", 64, 0, true, Grants{HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	// fetchWAT closes the body twice after writing it: the second close
	// is EINVAL (1), so the call ends with code 1 after a valid response.
	resp := invoke(t, p, request(), Invocation{HTTP: allowing(t, s.URL)})
	wantFailed(t, resp, hostabi.ReasonExited, "exited with code 1", "buffer_close: no buffer 2 in this call")
}

// TestHTTPCapabilityConcurrentCalls: calls running at once each reach their own
// client, never another call's.
func TestHTTPCapabilityConcurrentCalls(t *testing.T) {
	s := httptest.NewServer(responder)
	defer s.Close()
	p, err := fetchPlugin(t, sharedEngine(t), s.URL+"/x", 64, 0, true, Grants{HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	allowed, denied := allowing(t, s.URL), allowing(t, "http://example.com")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client, wantCode := allowed, 1 // the double close, after the response
			if i%2 == 1 {
				client, wantCode = denied, 3
			}
			resp, err := p.Invoke(context.Background(), request(), Invocation{HTTP: client})
			if err != nil {
				t.Error(err)
				return
			}
			if want := fmt.Sprintf("exited with code %d", wantCode); !strings.Contains(resp.Message, want) {
				t.Errorf("call %d: %s, want %s", i, resp.Message, want)
			}
		}()
	}
	wg.Wait()
}

// TestHTTPCapabilityCancel: a cancelled call stops its pending request at
// once, as it stops a loop.
func TestHTTPCapabilityCancel(t *testing.T) {
	s := hangserver.Start(t)
	p, err := fetchPlugin(t, sharedEngine(t), s.URL+"/hang", 64, 0, false, Grants{HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var ended time.Time
	time.AfterFunc(100*time.Millisecond, func() { ended = time.Now(); cancel() })
	_, err = p.Invoke(ctx, request(), Invocation{HTTP: allowing(t, s.URL)})
	wantCtxErr(t, err, context.Canceled, ended, time.Now(), 2*time.Second)

	deadline := time.Now().Add(100 * time.Millisecond)
	ctx, cancel = context.WithDeadline(context.Background(), deadline)
	defer cancel()
	_, err = p.Invoke(ctx, request(), Invocation{HTTP: allowing(t, s.URL)})
	wantCtxErr(t, err, context.DeadlineExceeded, deadline, time.Now(), 2*time.Second)
}

// TestHostFunctionPanic: a panic in a host function is an errno for the
// plugin, not a crash of the host.
func TestHostFunctionPanic(t *testing.T) {
	f := hostFunction("boom", func(context.Context, api.Module, *callState, []uint64) hostabi.Errno { panic("boom") })
	ctx := withCapabilities(context.Background(), Invocation{})
	stack := []uint64{0}
	f(ctx, nil, stack)
	if hostabi.Errno(stack[0]) != hostabi.ErrnoIO {
		t.Fatalf("errno %d, want EIO", stack[0])
	}
	if msg := ctx.Value(callStateKey{}).(*callState).lastErr; !strings.Contains(msg, "the host failed in boom (boom)") {
		t.Errorf("last error %q", msg)
	}
	// Outside a call (a reactor's _initialize): ENOTCAPABLE.
	f(context.Background(), nil, stack)
	if hostabi.Errno(stack[0]) != hostabi.ErrnoNotCapable {
		t.Fatalf("errno %d outside a call, want ENOTCAPABLE", stack[0])
	}
}
