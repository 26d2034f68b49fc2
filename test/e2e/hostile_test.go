//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// TestHostilePluginsBesideHealthyRuns runs plugins that loop forever, eat
// memory and answer garbage at the same time as healthy runs: each hostile
// run ends with the reason saying what it did, and the healthy runs finish
// as if alone.
func TestHostilePluginsBesideHealthyRuns(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
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

	// Three endless loops hold three sandboxes (and up to both CPUs) for 3s.
	const loops = 3
	for i := range loops {
		createCustomRun(t, ns, hostile(fmt.Sprintf("loop-%d", i), loop, "Loop", 3*time.Second))
	}
	createCustomRun(t, ns, hostile("membomb", membomb, "MemBomb", time.Minute))
	createCustomRun(t, ns, hostile("garbage", garbage, "Garbage", time.Minute))

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
}
