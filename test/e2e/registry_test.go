//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// TestPluginUpdatedInFlight replaces a kind's plugin through its ConfigMap
// while a run's attempt is running: the attempt finishes on the version it
// started with, the run's retry and new runs use the new one. The kind is
// first served by an endless loop, then by Wait:
//
//	attempt 1 (loop, old version)  → CustomRunTimedOut, not interrupted by the update
//	attempt 2 (Wait, new version)  → MissingDuration (the run passes no duration)
//	a new run with a duration      → DurationElapsed
func TestPluginUpdatedInFlight(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	apiVersion := registerTestPluginFrom(t, hostileDir, ns, "Loop")
	run := func(name string, params ...v1beta1.Param) *v1beta1.CustomRun {
		return &v1beta1.CustomRun{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1beta1.CustomRunSpec{
				CustomRef: &v1beta1.TaskRef{APIVersion: apiVersion, Kind: "Loop"},
				Params:    params,
				Timeout:   &metav1.Duration{Duration: 5 * time.Second},
				Retries:   1,
			},
		}
	}
	// Serve the same kind with Wait's module, in the loop's ConfigMap;
	// built beforehand, as compressing it takes a while.
	wait := firstPartyPlugin(t, "Wait")
	wait.Name, wait.APIVersion, wait.Kind = ns+"-loop", apiVersion, "Loop"
	update, err := pluginConfigMap(pluginDir, wait)
	if err != nil {
		t.Fatal(err)
	}

	createCustomRun(t, ns, run("inflight"))
	eventually(t, 30*time.Second, "the first attempt to start", func(ctx context.Context) (bool, error) {
		cr, err := tekton.TektonV1beta1().CustomRuns(ns).Get(ctx, "inflight", metav1.GetOptions{})
		return err == nil && cr.Status.StartTime != nil, err
	})
	cm, err := applyConfigMap(ctx, update)
	if err != nil {
		t.Fatal(err)
	}
	// The registry records the Event as it installs the version, well
	// before a run created now reaches the controller.
	waitEvent(t, cm, "PluginLoaded", "module sha256 "+manifestDigest(t, cm))
	if cr, err := tekton.TektonV1beta1().CustomRuns(ns).Get(ctx, "inflight", metav1.GetOptions{}); err != nil || len(cr.Status.RetriesStatus) != 0 {
		t.Fatalf("the first attempt ended before the new version was loaded (err %v); the test needs a longer timeout on this machine", err)
	}

	createCustomRun(t, ns, run("after", stringParam("duration", "200ms")))
	wantCondition(t, waitDone(t, ns, "after", 30*time.Second), corev1.ConditionTrue, "DurationElapsed")

	cr := waitDone(t, ns, "inflight", 30*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, "MissingDuration")
	if len(cr.Status.RetriesStatus) != 1 {
		t.Fatalf("retriesStatus = %+v, want the first attempt", cr.Status.RetriesStatus)
	}
	if c := cr.Status.RetriesStatus[0].GetCondition("Succeeded"); c == nil || c.Reason != "CustomRunTimedOut" {
		t.Errorf("first attempt ended %+v, want CustomRunTimedOut: the update must not interrupt it", c)
	}
}

// TestBrokenPluginConfigMap registers a ConfigMap whose module does not
// compile: a Warning Event on the ConfigMap says so, runs of its kind end
// PluginUnavailable naming the ConfigMap, other plugins keep working, and
// fixing the ConfigMap serves the kind.
func TestBrokenPluginConfigMap(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	apiVersion := ns + ".e2e.tekton-wasm.dev/v1alpha1"
	cms := kube.CoreV1().ConfigMaps(controllerNamespace)
	broken := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:   ns + "-broken",
			Labels: map[string]string{manifest.PluginLabel: manifest.PluginLabelValue},
		},
		Data: map[string]string{manifest.ManifestKey: "name: " + ns + "-broken\napiVersion: " + apiVersion +
			"\nkind: Wait\nmodule: broken.wasm\n"},
		// The wasm header, then a section that is not one.
		BinaryData: map[string][]byte{"broken.wasm": []byte("\x00asm\x01\x00\x00\x00\xffgarbage")},
	}
	broken, err := cms.Create(ctx, broken, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), broken.Name, metav1.DeleteOptions{}) })
	waitEvent(t, broken, "PluginInvalid", broken.Name)

	run := waitRun("broken", "100ms")
	run.Spec.CustomRef.APIVersion = apiVersion
	createCustomRun(t, ns, run)
	cr := waitDone(t, ns, "broken", 30*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, "PluginUnavailable")
	if msg := cr.Status.GetCondition("Succeeded").Message; !strings.Contains(msg, broken.Name) {
		t.Errorf("message %q does not name the ConfigMap %s", msg, broken.Name)
	}

	createCustomRun(t, ns, waitRun("healthy", "100ms"))
	wantCondition(t, waitDone(t, ns, "healthy", 30*time.Second), corev1.ConditionTrue, "DurationElapsed")

	// Fix it: the same ConfigMap now holds Wait's module.
	wait := firstPartyPlugin(t, "Wait")
	wait.Name, wait.APIVersion = broken.Name, apiVersion
	fixedCM, err := applyPlugin(ctx, pluginDir, wait)
	if err != nil {
		t.Fatal(err)
	}
	// The registry records the Event as it installs the version, well
	// before a run created now reaches the controller.
	waitEvent(t, fixedCM, "PluginLoaded", "module sha256 "+manifestDigest(t, fixedCM))
	fixed := waitRun("fixed", "100ms")
	fixed.Spec.CustomRef.APIVersion = apiVersion
	createCustomRun(t, ns, fixed)
	wantCondition(t, waitDone(t, ns, "fixed", 30*time.Second), corev1.ConditionTrue, "DurationElapsed")
}

// firstPartyPlugin returns the manifest of the first-party plugin of kind.
func firstPartyPlugin(t *testing.T, kind string) manifest.Manifest {
	t.Helper()
	plugins, err := loadPlugins(pluginDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plugins {
		if p.Kind == kind {
			return p
		}
	}
	t.Fatalf("no first-party plugin of kind %s", kind)
	return manifest.Manifest{}
}

// manifestDigest returns the sha256 pinned in a plugin ConfigMap's manifest.
func manifestDigest(t *testing.T, cm *corev1.ConfigMap) string {
	t.Helper()
	p, _, err := manifest.FromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	return p.SHA256
}

// waitEvent waits for an Event of the given reason, whose message contains
// text, on the ConfigMap cm (this very version of it).
func waitEvent(t *testing.T, cm *corev1.ConfigMap, reason, text string) {
	t.Helper()
	waitEventWithin(t, cm, reason, text, 30*time.Second)
}

// waitEventWithin is waitEvent with a timeout.
func waitEventWithin(t *testing.T, cm *corev1.ConfigMap, reason, text string, timeout time.Duration) {
	t.Helper()
	selector := fields.Set{
		"involvedObject.kind": "ConfigMap",
		"involvedObject.name": cm.Name,
		"reason":              reason,
	}.AsSelector().String()
	eventually(t, timeout, reason+" Event on ConfigMap "+cm.Name, func(ctx context.Context) (bool, error) {
		evs, err := kube.CoreV1().Events(cm.Namespace).List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if strings.Contains(e.Message, text) {
				t.Logf("Event %s on ConfigMap %s: %s", reason, cm.Name, e.Message)
				return true, nil
			}
		}
		return false, nil
	})
}
