package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"knative.dev/pkg/apis"

	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
)

// firstPartyDir builds the first-party Go plugin name into a plugin
// directory of its own, with an index of its plugin.yaml, as make
// plugins does, and returns the directory.
func firstPartyDir(t *testing.T, name string) string {
	t.Helper()
	plugins := t.TempDir()
	if err := os.WriteFile(filepath.Join(plugins, name+".wasm"), wasmtest.GoPlugin(t, "../../plugins/"+name), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile("../../plugins/" + name + "/plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	index := "plugins:\n- " + strings.ReplaceAll(strings.TrimSpace(string(manifest)), "\n", "\n  ") + "\n"
	if err := os.WriteFile(filepath.Join(plugins, "index.yaml"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	return plugins
}

// TestRunHTTP runs the http plugin from a plugin directory against a
// local server: refused without --allow-host (the manifest allows no
// host), served with it.
func TestRunHTTP(t *testing.T) {
	plugins, cache := firstPartyDir(t, "http"), t.TempDir()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":{"id":"b-42"}}`))
	}))
	defer s.Close()
	host := strings.TrimPrefix(s.URL, "http://")

	// runHTTP runs the example against s and returns the exit code, the
	// final condition's reason and message, the results and stderr.
	runHTTP := func(extra ...string) (code int, reason, message string, results map[string]string, stderr string) {
		args := append([]string{"run", "--cache-dir", cache, "-f", "../../examples/http/http-post.yaml", "--plugins", plugins, "-o", "json",
			"--param", "url=" + s.URL + "/api/builds", "--workspace", "headers=" + t.TempDir()}, extra...)
		var stdout, errOut bytes.Buffer
		code = run(context.Background(), args, nil, &stdout, &errOut)
		var cr v1beta1.CustomRun
		if code != 2 {
			if err := json.Unmarshal(stdout.Bytes(), &cr); err != nil {
				t.Fatalf("%v:\n%s", err, stdout.String())
			}
			if c := cr.Status.GetCondition(apis.ConditionSucceeded); c != nil {
				reason, message = c.Reason, c.Message
			}
		}
		results = map[string]string{}
		for _, r := range cr.Status.Results {
			results[r.Name] = r.Value
		}
		return code, reason, message, results, errOut.String()
	}
	code, reason, msg, _, errOut := runHTTP()
	if code != 1 || reason != "HostNotAllowed" || !strings.Contains(msg, "--allow-host") || !strings.Contains(msg, `add "`+host+`"`) {
		t.Errorf("without --allow-host: exit code %d, %s %q, want 1 and HostNotAllowed naming --allow-host\n%s", code, reason, msg, errOut)
	}
	code, reason, msg, results, errOut := runHTTP("--allow-host", host)
	if code != 0 || results["build-id"] != "b-42" || results["status"] != "200" {
		t.Errorf("with --allow-host: exit code %d, %s %q, results %v, want 0 and the results\n%s", code, reason, msg, results, errOut)
	}
	code, _, _, _, errOut = runHTTP("--allow-host", "http://"+host)
	if code != 2 || !strings.Contains(errOut, `--allow-host: http allow entry "http://`+host+`" has a scheme or a path`) {
		t.Errorf("a bad --allow-host: exit code %d, want 2:\n%s", code, errOut)
	}
}

// TestPackAllowHost: pack --allow-host writes the grant into the
// ConfigMap's manifest, which the controller then loads; a bad entry is
// refused, naming it.
func TestPackAllowHost(t *testing.T) {
	module := filepath.Join(t.TempDir(), "hook.wasm")
	if err := os.WriteFile(module, wasmtest.WAT(t, "../../runtime/registry/testdata/http.wat"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"pack", module, "--api-version", "x.dev/v1", "--kind", "Hook",
		"--allow-host", "hooks.example.com", "--allow-host", "*.example.org:8443"}, nil, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "capabilities:\n      http:\n        allow:\n        - hooks.example.com\n        - '*.example.org:8443'") {
		t.Fatalf("exit code %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	stderr.Reset()
	code = run(context.Background(), []string{"pack", module, "--api-version", "x.dev/v1", "--kind", "Hook", "--allow-host", "hooks.example.com/x"}, nil, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `http allow entry "hooks.example.com/x" has a scheme or a path`) {
		t.Errorf("a bad --allow-host: exit code %d:\n%s", code, stderr.String())
	}
}
