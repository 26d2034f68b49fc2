//go:build e2e

package e2e

import (
	"context"
	"fmt"
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
	if !isRigController(t) {
		t.Skipf("the cluster at %s is not a hack/cluster.sh rig running tekton-wasm's controller", kubeconfigPath)
	}
}

// isRigController reports whether the cluster under test is the one
// hack/cluster.sh runs, with tekton-wasm's controller (replica 0) running.
func isRigController(t *testing.T) bool {
	t.Helper()
	return rigControllerPID(t) != ""
}

// rigControllerPID returns the pid of tekton-wasm's controller (replica 0)
// if the cluster under test is the one hack/cluster.sh runs and the
// controller runs, else "".
func rigControllerPID(t *testing.T) string {
	t.Helper()
	var ours bool
	var pid string
	for _, line := range strings.Split(rig(t, "status"), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "export" && f[1] == "KUBECONFIG="+kubeconfigPath:
			ours = true
		case len(f) >= 4 && f[0] == "controller" && f[1] == "running" && f[2] == "pid":
			pid = f[3]
		}
	}
	if !ours {
		return ""
	}
	return pid
}

// rig runs hack/cluster.sh with args, logs its stderr and returns its
// stdout; it fails t if the command fails.
func rig(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := runRig(args...)
	if s := strings.TrimSpace(stderr); s != "" {
		t.Log(s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runRig runs hack/cluster.sh with args and returns its stdout and stderr.
func runRig(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "cluster.sh"), args...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("hack/cluster.sh %s: %w", strings.Join(args, " "), err)
	}
	return string(out), errb.String(), err
}
