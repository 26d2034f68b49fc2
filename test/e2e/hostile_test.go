//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// TestHostilePluginsBesideHealthyRuns runs plugins that attack the host at
// the same time as healthy runs: endless loops, a memory bomb, a garbage
// answer, a workspace escape through links, a descriptor flood, a table
// bomb and a compile bomb. Each hostile run ends with the reason saying
// what it did, nothing outside the escape's workspace is touched, the
// healthy runs finish as if alone, and the controller does not restart.
func TestHostilePluginsBesideHealthyRuns(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	pid := rigControllerPID(t)
	loop := registerTestPluginFrom(t, hostileDir, ns, "Loop")
	membomb := registerTestPluginFrom(t, hostileDir, ns, "MemBomb")
	garbage := registerTestPluginFrom(t, hostileDir, ns, "Garbage")
	hostile := func(name, apiVersion, kind string, timeout time.Duration) *v1beta1.CustomRun {
		return &v1beta1.CustomRun{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1beta1.CustomRunSpec{
				CustomSpec: &v1beta1.EmbeddedCustomRunSpec{TypeMeta: runtime.TypeMeta{APIVersion: apiVersion, Kind: kind}},
				Timeout:    &metav1.Duration{Duration: timeout},
			},
		}
	}

	// The compile bomb's ConfigMap first: its load runs while the rest
	// does.
	compileBomb, compileBombCM := hostileExample(t, ns, "compile-bomb")
	// The escape is given a host directory of the test's to read a secret
	// from and write a file into; nothing there may change.
	outside := t.TempDir()
	secretPath, targetPath := filepath.Join(outside, "secret"), filepath.Join(outside, "escaped")
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	secretText := hex.EncodeToString(secret)
	if err := os.WriteFile(secretPath, []byte(secretText), 0o600); err != nil {
		t.Fatal(err)
	}
	escape, _ := hostileExample(t, ns, "escape")
	escape.Spec.Params = append(escape.Spec.Params, stringParam("secret", secretPath), stringParam("target", targetPath))
	descriptors, _ := hostileExample(t, ns, "descriptor-flood")
	tableBomb, _ := hostileExample(t, ns, "table-bomb")

	// Three endless loops hold three sandboxes (and up to both CPUs) for 3s.
	const loops = 3
	for i := range loops {
		createCustomRun(t, ns, hostile(fmt.Sprintf("loop-%d", i), loop, "Loop", 3*time.Second))
	}
	createCustomRun(t, ns, hostile("membomb", membomb, "MemBomb", time.Minute))
	createCustomRun(t, ns, hostile("garbage", garbage, "Garbage", time.Minute))
	for _, cr := range []*v1beta1.CustomRun{escape, descriptors, tableBomb, compileBomb} {
		createCustomRun(t, ns, cr)
	}

	created := time.Now()
	createCustomRun(t, ns, waitRun("wait", "1s"))
	semver := &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Name: "semver"},
		Spec: v1beta1.CustomRunSpec{
			CustomRef: &v1beta1.TaskRef{APIVersion: semverAPIVersion, Kind: "SemVer"},
			Params:    v1beta1.Params{stringParam("version", "3.1.4")},
		},
	}
	createCustomRun(t, ns, semver)

	cr := waitDone(t, ns, "semver", 10*time.Second)
	wantCondition(t, cr, corev1.ConditionTrue, "ValidVersion")
	t.Logf("healthy SemVer run done %s after its creation", time.Since(created).Round(time.Millisecond))
	cr = waitDone(t, ns, "wait", 10*time.Second)
	wantCondition(t, cr, corev1.ConditionTrue, "DurationElapsed")
	took := cr.Status.CompletionTime.Sub(cr.Status.StartTime.Time)
	t.Logf("healthy 1s Wait run took %s from its start", took)
	if took > 3*time.Second {
		t.Errorf("a healthy 1s wait took %s beside hostile plugins", took)
	}

	for i := range loops {
		wantCondition(t, waitDone(t, ns, fmt.Sprintf("loop-%d", i), 30*time.Second), corev1.ConditionFalse, "CustomRunTimedOut")
	}
	wantCondition(t, waitDone(t, ns, "membomb", 30*time.Second), corev1.ConditionFalse, hostabi.ReasonOutOfMemory)
	wantCondition(t, waitDone(t, ns, "garbage", 30*time.Second), corev1.ConditionFalse, hostabi.ReasonInvalidResponse)

	// The escape: every step refused, nothing outside its workspace read
	// or written.
	cr = waitDone(t, ns, escape.Name, 30*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, "SandboxHeld")
	if msg := cr.Status.GetCondition(apis.ConditionSucceeded).Message; strings.Contains(msg, "ALLOWED") || strings.Contains(msg, secretText) {
		t.Errorf("the escape plugin reached outside its workspace:\n%s", msg)
	}
	wantUntouched(t, outside, secretPath, secretText)

	// The descriptor flood: refused its descriptors, ends with its reason.
	cr = waitDone(t, ns, descriptors.Name, 30*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, "SandboxHeld")
	if msg := cr.Status.GetCondition(apis.ConditionSucceeded).Message; !strings.Contains(msg, "opened") {
		t.Errorf("the descriptor flood's message %q does not say how many files it opened", msg)
	}

	wantCondition(t, waitDone(t, ns, tableBomb.Name, 30*time.Second), corev1.ConditionFalse, hostabi.ReasonTrapped)

	// The compile bomb: refused as a broken plugin, its run unserved.
	waitEvent(t, compileBombCM, "PluginInvalid", compileBombCM.Name)
	wantCondition(t, waitDone(t, ns, compileBomb.Name, 30*time.Second), corev1.ConditionFalse, "PluginUnavailable")

	// Healthy runs after all of them still run, in the same controller.
	createCustomRun(t, ns, waitRun("after", "0s"))
	wantCondition(t, waitDone(t, ns, "after", 10*time.Second), corev1.ConditionTrue, "DurationElapsed")
	if pid == "" {
		t.Log("not the rig's controller: its restarts are not checked")
	} else if now := rigControllerPID(t); now != pid {
		t.Errorf("the controller restarted beside the hostile plugins: pid %s, now %q", pid, now)
	}
}

// hostileExample reads the example run examples/hostile/<name>.yaml,
// registers the plugin of its kind from bin/hostile under t's own
// apiVersion (registerTestPlugin) and returns the run, pointed at that
// apiVersion, and the plugin's ConfigMap.
func hostileExample(t *testing.T, ns, name string) (*v1beta1.CustomRun, *corev1.ConfigMap) {
	t.Helper()
	file := filepath.Join(repoRoot, "examples", "hostile", name+".yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the hostile plugin %s has no example run: %v", name, err)
	}
	cr := &v1beta1.CustomRun{}
	if err := yaml.UnmarshalStrict(b, cr); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	ref := cr.Spec.CustomRef
	if ref == nil {
		t.Fatalf("%s: the example run has no customRef", file)
	}
	apiVersion, cm := registerTestConfigMap(t, hostileDir, ns, string(ref.Kind))
	ref.APIVersion = apiVersion
	return cr, cm
}

// wantUntouched fails t unless dir holds only the file secret, with its
// content and a single link.
func wantUntouched(t *testing.T, dir, secret, content string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(secret) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("a plugin wrote into %s, outside its workspace: it holds %v", dir, names)
	}
	b, err := os.ReadFile(secret)
	if err != nil || !bytes.Equal(b, []byte(content)) {
		t.Errorf("a plugin changed %s, outside its workspace: %q, %v", secret, b, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(secret, &st); err != nil {
		t.Fatal(err)
	}
	if st.Nlink != 1 {
		t.Errorf("a plugin hard-linked %s, outside its workspace: %d links", secret, st.Nlink)
	}
}
