//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	waitAPIVersion   = "wait.tekton-wasm.dev/v1alpha1"
	semverAPIVersion = "semver.tekton-wasm.dev/v1alpha1"
)

func stringParam(name, value string) v1beta1.Param {
	return v1beta1.Param{Name: name, Value: *v1beta1.NewStructuredValues(value)}
}

// waitRun is a CustomRun of the Wait plugin by unnamed customRef.
func waitRun(name, duration string) *v1beta1.CustomRun {
	return &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.CustomRunSpec{
			CustomRef: &v1beta1.TaskRef{APIVersion: waitAPIVersion, Kind: "Wait"},
			Params:    v1beta1.Params{stringParam("duration", duration)},
		},
	}
}

func TestCustomRunUnnamedRef(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createCustomRun(t, ns, waitRun("wait", "1s"))
	cr := waitDone(t, ns, "wait", 30*time.Second)
	wantCondition(t, cr, corev1.ConditionTrue, "DurationElapsed")
	if took := cr.Status.CompletionTime.Sub(cr.Status.StartTime.Time); took < time.Second {
		t.Errorf("a 1s wait completed %s after it started", took)
	}
}

func TestCustomRunCustomSpec(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createCustomRun(t, ns, &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Name: "wait"},
		Spec: v1beta1.CustomRunSpec{
			CustomSpec: &v1beta1.EmbeddedCustomRunSpec{
				TypeMeta: runtime.TypeMeta{APIVersion: waitAPIVersion, Kind: "Wait"},
			},
			Params: v1beta1.Params{stringParam("duration", "200ms")},
		},
	})
	wantCondition(t, waitDone(t, ns, "wait", 30*time.Second), corev1.ConditionTrue, "DurationElapsed")
}

// TestCustomRunNamedRef installs a CRD for a custom task kind, lets the
// controller read it through config/'s aggregated ClusterRole, and runs a
// CustomRun whose customRef names an object of that kind.
func TestCustomRunNamedRef(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	apiVersion := registerTestPlugin(t, ns, "SemVer")
	gv, _ := schema.ParseGroupVersion(apiVersion)
	resource := gv.WithResource("semvers")

	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "semvers." + gv.Group},
		"spec": map[string]any{
			"group": gv.Group,
			"scope": "Namespaced",
			"names": map[string]any{"plural": "semvers", "singular": "semver", "kind": "SemVer", "listKind": "SemVerList"},
			"versions": []any{map[string]any{
				"name": gv.Version, "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true,
				}},
			}},
		},
	}}
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = crds.Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{}) })

	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "e2e-read-" + ns,
			Labels: map[string]string{"tekton-wasm.dev/aggregate-to-controller": "true"},
		},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{gv.Group}, Resources: []string{"semvers"}, Verbs: []string{"get"}}},
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})

	gate := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       "SemVer",
		"metadata":   map[string]any{"name": "gate"},
		"spec":       map[string]any{"note": "read by the controller, ignored by the plugin"},
	}}
	eventually(t, 30*time.Second, "the CRD to serve SemVer objects", func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(resource).Namespace(ns).Create(ctx, gate, metav1.CreateOptions{})
		return err == nil, err
	})
	// Wait for the aggregation controller to grant the controller get, as
	// the apiserver's authorizer sees it.
	eventually(t, 30*time.Second, "the controller's ServiceAccount to be allowed to get semvers", func(ctx context.Context) (bool, error) {
		sar, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User: "system:serviceaccount:" + controllerNamespace + ":tekton-wasm-controller",
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: "get", Group: gv.Group, Resource: "semvers", Name: "gate",
				},
			},
		}, metav1.CreateOptions{})
		return err == nil && sar.Status.Allowed, err
	})

	// The run's service account may get semvers too: the controller reads
	// the object only then.
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "read-semvers"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{gv.Group}, Resources: []string{"semvers"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read-semvers"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-semvers"},
		// "deleted" is bound but does not exist: its binding must grant nothing.
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: ns}, {Kind: "ServiceAccount", Name: "deleted", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "unbound"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	createCustomRun(t, ns, &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Name: "named"},
		Spec: v1beta1.CustomRunSpec{
			CustomRef: &v1beta1.TaskRef{APIVersion: apiVersion, Kind: "SemVer", Name: "gate"},
			Params:    v1beta1.Params{stringParam("version", "2.3.4-rc.1")},
		},
	})
	cr := waitDone(t, ns, "named", 30*time.Second)
	wantCondition(t, cr, corev1.ConditionTrue, "ValidVersion")
	wantResults(t, cr, map[string]string{"major": "2", "minor": "3", "patch": "4", "prerelease": "rc.1", "build": ""})

	// The same run naming an object that does not exist ends at once.
	createCustomRun(t, ns, &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Name: "missing"},
		Spec: v1beta1.CustomRunSpec{
			CustomRef: &v1beta1.TaskRef{APIVersion: apiVersion, Kind: "SemVer", Name: "absent"},
			Params:    v1beta1.Params{stringParam("version", "1.0.0")},
		},
	})
	wantCondition(t, waitDone(t, ns, "missing", 30*time.Second), corev1.ConditionFalse, "CustomTaskNotFound")

	// A service account that may not get the object, or does not exist
	// (although a RoleBinding names it), reads nothing.
	for name, reason := range map[string]string{"unbound": "CustomTaskForbidden", "deleted": "ServiceAccountNotFound"} {
		createCustomRun(t, ns, &v1beta1.CustomRun{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1beta1.CustomRunSpec{
				CustomRef:          &v1beta1.TaskRef{APIVersion: apiVersion, Kind: "SemVer", Name: "gate"},
				ServiceAccountName: name,
				Params:             v1beta1.Params{stringParam("version", "1.0.0")},
			},
		})
		wantCondition(t, waitDone(t, ns, name, 30*time.Second), corev1.ConditionFalse, reason)
	}
}

func TestCustomRunTimeout(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	run := waitRun("wait", "1m")
	run.Spec.Timeout = &metav1.Duration{Duration: time.Second}
	createCustomRun(t, ns, run)
	cr := waitDone(t, ns, "wait", 30*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, "CustomRunTimedOut")
	took := cr.Status.CompletionTime.Sub(cr.Status.StartTime.Time)
	if took < time.Second || took > 5*time.Second {
		t.Errorf("a run with a 1s timeout ended %s after it started", took)
	}
}

func TestCustomRunRetries(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	run := waitRun("wait", "1m")
	run.Spec.Timeout = &metav1.Duration{Duration: time.Second}
	run.Spec.Retries = 2
	createCustomRun(t, ns, run)
	cr := waitDone(t, ns, "wait", 60*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, "CustomRunTimedOut")
	if n := len(cr.Status.RetriesStatus); n != 2 {
		t.Fatalf("retriesStatus has %d entries, want 2 (one per failed attempt before the last)", n)
	}
	for i, rs := range cr.Status.RetriesStatus {
		c := rs.GetCondition("Succeeded")
		if c == nil || c.Reason != "CustomRunTimedOut" || rs.StartTime == nil || rs.CompletionTime == nil {
			t.Errorf("retriesStatus[%d] = %+v, want a timed-out attempt with start and completion times", i, rs)
		}
	}
}

// TestUnregisteredKindStartsOnRegistration: a run of a kind without a
// plugin stays untouched; registering the plugin afterwards starts it.
func TestUnregisteredKindStartsOnRegistration(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	apiVersion := ns + ".e2e.tekton-wasm.dev/v1alpha1" // registerTestPlugin's, not yet registered
	run := waitRun("later", "100ms")
	run.Spec.CustomRef.APIVersion = apiVersion
	createCustomRun(t, ns, run)

	time.Sleep(3 * time.Second)
	cr, err := tekton.TektonV1beta1().CustomRuns(ns).Get(context.Background(), "later", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cr.Status.StartTime != nil || len(cr.Status.Conditions) != 0 || len(cr.Status.ExtraFields.Raw) != 0 {
		t.Fatalf("a CustomRun of an unregistered kind was touched: status = %+v", cr.Status)
	}

	if got := registerTestPlugin(t, ns, "Wait"); got != apiVersion {
		t.Fatalf("registered %s, want %s", got, apiVersion)
	}
	wantCondition(t, waitDone(t, ns, "later", 30*time.Second), corev1.ConditionTrue, "DurationElapsed")
}

// wantResults fails t unless cr's results are exactly want.
func wantResults(t *testing.T, cr *v1beta1.CustomRun, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, r := range cr.Status.Results {
		got[r.Name] = r.Value
	}
	if len(got) != len(want) {
		t.Fatalf("CustomRun %s results = %v, want %v", cr.Name, got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("CustomRun %s results = %v, want %v", cr.Name, got, want)
		}
	}
}
