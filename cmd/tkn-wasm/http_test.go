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

// TestRunHTTP runs the http plugin from a plugin directory against a
// local server: refused without --allow-host (the manifest allows no
// host), served with it.
func TestRunHTTP(t *testing.T) {
	plugins, cache := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(plugins, "http.wasm"), wasmtest.GoPlugin(t, "../../plugins/http"), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile("../../plugins/http/plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	index := "plugins:\n- " + strings.ReplaceAll(strings.TrimSpace(string(manifest)), "\n", "\n  ") + "\n"
	if err := os.WriteFile(filepath.Join(plugins, "index.yaml"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
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
