//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/internal/scaffold"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
	"github.com/tekton-wasm/tekton-wasm/runtime/plugintest"
)

// A plugin tkn-wasm init writes, in each language it offers, builds with
// make, registers from its plugin.yaml, and its sample CustomRun succeeds
// in the cluster with the result its test case expects.
func TestInitPlugins(t *testing.T) {
	for _, lang := range scaffold.Languages() {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			dir := filepath.Join(t.TempDir(), "greet-"+lang)
			d := scaffold.Data{Name: "greet-" + lang, Kind: scaffold.Kind("greet-" + lang), APIVersion: "greet.example.com/v1alpha1", Version: "e2e"}
			if _, err := scaffold.Write(dir, lang, d); err != nil {
				t.Fatal(err)
			}
			build := exec.Command("make")
			build.Dir = dir
			if cache, err := os.UserCacheDir(); err == nil { // Rust: compile the SDK's crates once (as cmd/tkn-wasm's test does)
				build.Env = append(os.Environ(), "CARGO_TARGET_DIR="+filepath.Join(cache, "tekton-wasm", "init-test-cargo"))
			}
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("make: %v\n%s", err, out)
			}
			p, err := plugintest.ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			apiVersion, _ := registerTestManifest(t, dir, ns, *p)

			sample := filepath.Join(dir, "examples", "greet.yaml")
			b, err := boundedread.Open(sample, plugintest.MaxCaseBytes)
			if err != nil {
				t.Fatal(err)
			}
			cr, err := local.ParseCustomRun(sample, b)
			if err != nil {
				t.Fatal(err)
			}
			cr.Namespace = ns
			cr.Spec.CustomRef.APIVersion = apiVersion
			createCustomRun(t, ns, cr)
			done := waitDone(t, ns, cr.Name, 60*time.Second)
			wantCondition(t, done, corev1.ConditionTrue, "Greeted")
			if r := done.Status.Results; len(r) != 1 || r[0].Name != "greeting" || r[0].Value != "Hello, world!" {
				t.Errorf("results %+v, want greeting=Hello, world!", r)
			}
		})
	}
}
