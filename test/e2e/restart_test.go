//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestControllerKilled SIGKILLs the controller while a run waits, creates
// another run while it is down, and restarts it: both runs complete, the
// first without starting over. It runs alone (not in parallel): the other
// tests' timings assume a live controller.
func TestControllerKilled(t *testing.T) {
	requireRigController(t)
	ns := newNamespace(t)
	ctx := context.Background()

	createCustomRun(t, ns, waitRun("long", "6s"))
	eventually(t, 30*time.Second, "the long run to start", func(ctx context.Context) (bool, error) {
		cr, err := tekton.TektonV1beta1().CustomRuns(ns).Get(ctx, "long", metav1.GetOptions{})
		return err == nil && cr.Status.StartTime != nil, err
	})
	rig(t, "kill-controller")
	killed := time.Now()

	createCustomRun(t, ns, waitRun("during", "500ms"))
	time.Sleep(time.Second)
	if cr, err := tekton.TektonV1beta1().CustomRuns(ns).Get(ctx, "during", metav1.GetOptions{}); err != nil || cr.Status.StartTime != nil {
		t.Fatalf("a run created while the controller was down started anyway (err %v): is another controller running?", err)
	}
	rig(t, "start-controller")
	t.Logf("controller down for %s", time.Since(killed).Round(time.Millisecond))

	long := waitDone(t, ns, "long", 30*time.Second)
	wantCondition(t, long, corev1.ConditionTrue, "DurationElapsed")
	if took := long.Status.CompletionTime.Sub(long.Status.StartTime.Time); took < 6*time.Second || took > 12*time.Second {
		t.Errorf("the 6s run took %s from its start; it must neither start over nor end early", took)
	}
	if len(long.Status.RetriesStatus) != 0 {
		t.Errorf("the killed controller's run was retried: %+v", long.Status.RetriesStatus)
	}
	wantCondition(t, waitDone(t, ns, "during", 30*time.Second), corev1.ConditionTrue, "DurationElapsed")
}

// requireRigController skips t unless the cluster under test is the one
// hack/cluster.sh runs, with tekton-wasm's controller as a local process
// that t may kill and restart.
func requireRigController(t *testing.T) {
	t.Helper()
	var ours, running bool
	for _, line := range strings.Split(rig(t, "status"), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "export" && f[1] == "KUBECONFIG="+kubeconfigPath:
			ours = true
		case len(f) >= 2 && f[0] == "controller":
			running = f[1] == "running"
		}
	}
	if !ours || !running {
		t.Skipf("the cluster at %s is not a hack/cluster.sh rig running tekton-wasm's controller", kubeconfigPath)
	}
}

// rig runs hack/cluster.sh with args and returns its stdout.
func rig(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "cluster.sh"), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Log(s)
	}
	if err != nil {
		t.Fatalf("hack/cluster.sh %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}
