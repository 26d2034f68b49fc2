//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
)

// TestKubernetesCapability drives the host side of the Kubernetes
// capability (runtime/capability/kubecap) against the rig's real
// kube-apiserver, as the controller would, with the rig's admin user
// impersonating a run's ServiceAccount: the apiserver's RBAC decides
// (403 first, then allowed by a RoleBinding), each verb does what it
// says (merge and apply patches included), and a kind installed after
// the first request (a CRD) is found by refreshing discovery.
func TestKubernetesCapability(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubecap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	group := "e2e-" + ns + ".tekton-wasm.dev"
	rules := []kubecap.Rule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}},
		{APIGroups: []string{group}, Resources: []string{"widgets"}, Verbs: []string{"get"}},
	}
	session := func() *kubecap.Session {
		return client.Session(rules, kubecap.Identity{Namespace: ns, ServiceAccount: "builder"}, kubecap.Options{})
	}
	do := func(s *kubecap.Session, doc hostabi.KubernetesRequest, body string) *kubecap.Response {
		t.Helper()
		d, _ := json.Marshal(doc)
		resp, err := s.Do(ctx, d, []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		return resp
	}
	configMap := func(verb, name string) hostabi.KubernetesRequest {
		return hostabi.KubernetesRequest{Verb: verb, APIVersion: "v1", Kind: "ConfigMap", Name: name}
	}

	// Not allowed yet: the apiserver's 403 names the account and the
	// permission.
	resp := do(session(), configMap("get", "settings"), "")
	want := fmt.Sprintf(`User \"system:serviceaccount:%s:builder\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"%s\"`, ns, ns)
	if resp.Status != 403 || !strings.Contains(string(resp.Body), want) {
		t.Fatalf("before the RoleBinding: %d %s, want 403 saying %s", resp.Status, resp.Body, want)
	}
	grantRole(t, ns, "builder", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "create", "patch", "delete"}})
	eventually(t, 10*time.Second, "the RoleBinding to apply", func(context.Context) (bool, error) {
		return do(session(), configMap("get", "settings"), "").Status == 404, nil
	})

	s := session()
	create := configMap("create", "")
	if resp := do(s, create, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","labels":{"app":"e2e"}},"data":{"a":"1"}}`); resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	if resp := do(s, create, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}}`); resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	if resp := do(s, create, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"}}`); resp.Status != 409 {
		t.Fatalf("create again: %d %s, want 409", resp.Status, resp.Body)
	}
	list := configMap("list", "")
	list.LabelSelector = "app=e2e"
	var cms corev1.ConfigMapList
	if resp := do(s, list, ""); resp.Status != 200 || json.Unmarshal(resp.Body, &cms) != nil || len(cms.Items) != 1 || cms.Items[0].Name != "settings" {
		t.Fatalf("list app=e2e: %d %s", resp.Status, resp.Body)
	}
	merge := configMap("patch", "settings")
	if resp := do(s, merge, `{"data":{"b":"2"}}`); resp.Status != 200 {
		t.Fatalf("merge patch: %d %s", resp.Status, resp.Body)
	}
	apply := configMap("patch", "settings")
	apply.PatchType, apply.FieldManager = hostabi.KubernetesPatchApply, "e2e-plugin"
	if resp := do(s, apply, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"c":"3"}}`); resp.Status != 200 {
		t.Fatalf("apply patch: %d %s", resp.Status, resp.Body)
	}
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil || fmt.Sprint(cm.Data) != "map[a:1 b:2 c:3]" {
		t.Fatalf("after the patches: %v (%v)", cm.Data, err)
	}
	managers := map[string]bool{}
	for _, f := range cm.ManagedFields {
		managers[f.Manager] = true
	}
	if !managers["e2e-plugin"] {
		t.Errorf("the apply patch's field manager is not among %v", managers)
	}
	if resp := do(s, configMap("delete", "settings"), ""); resp.Status != 200 {
		t.Fatalf("delete: %d %s", resp.Status, resp.Body)
	}
	if resp := do(s, configMap("get", "settings"), ""); resp.Status != 404 {
		t.Fatalf("get after delete: %d %s", resp.Status, resp.Body)
	}
	// Another namespace is refused by the host, whatever RBAC says.
	other := configMap("get", "x")
	other.Namespace = "default"
	d, _ := json.Marshal(other)
	if _, err := s.Do(ctx, d, nil); hostabi.ErrnoOf(err) != hostabi.ErrnoDenied {
		t.Errorf("another namespace: %v, want EDENIED", err)
	}

	// A kind installed after discovery was cached is found.
	widget := hostabi.KubernetesRequest{Verb: "get", APIVersion: group + "/v1", Kind: "Widget", Name: "w"}
	d, _ = json.Marshal(widget)
	if _, err := session().Do(ctx, d, nil); hostabi.ErrnoOf(err) != hostabi.ErrnoInval || !strings.Contains(err.Error(), "the cluster serves no kind Widget") {
		t.Fatalf("before the CRD: %v", err)
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "widgets." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = crds.Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{}) })
	eventually(t, 30*time.Second, "the CRD to be served", func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}).Namespace(ns).List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	// The discovery refresh happens at most every kindmap.ResetInterval
	// (10 s), and the miss above spent one.
	eventually(t, 30*time.Second, "the host to find kind Widget", func(context.Context) (bool, error) {
		resp, err := session().Do(ctx, d, nil)
		if err != nil {
			return false, err
		}
		return resp.Status == 403, nil // found, and builder may not get widgets
	})
}

// grantRole gives account in ns a Role with rule, through a RoleBinding.
func grantRole(t *testing.T, ns, account string, rule rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	name := account + "-" + strings.Join(rule.Resources, "-")
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{rule}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: account, Namespace: ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
