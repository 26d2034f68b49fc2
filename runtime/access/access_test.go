package access

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var waits = schema.GroupResource{Group: "wait.tekton-wasm.dev", Resource: "waits"}

func cluster(accounts ...string) *kubefake.Clientset {
	var objs []runtime.Object
	for _, a := range accounts {
		objs = append(objs, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: a}})
	}
	return kubefake.NewClientset(objs...)
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		name, account string
		forbidden     bool // the controller may not get service accounts
		want          *Error
		wantName      string
	}{{
		name: "the default account", account: "", wantName: "default",
	}, {
		name: "a named account", account: "builder", wantName: "builder",
	}, {
		name: "an account that does not exist", account: "deleted",
		want: &Error{Message: `service account "deleted" does not exist in namespace "ns"; ` +
			`create it, or set the run's serviceAccountName to an account that exists (the default is "default")`},
	}, {
		name: "a name that is not an account name", account: "builder/token",
		want: &Error{Message: `serviceAccountName "builder/token" is not a valid ServiceAccount name: ` +
			`a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
	}, {
		name: "the controller may not get service accounts", account: "builder", forbidden: true,
		want: &Error{Denied: true, Message: `the controller may not get service account "builder" in namespace "ns"; ` +
			`grant it get on serviceaccounts (the tekton-wasm-controller ClusterRole)`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			kube := cluster("default", "builder")
			if tc.forbidden {
				kube.PrependReactor("get", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(corev1.Resource("serviceaccounts"), tc.account, errors.New("RBAC"))
				})
			}
			a, err := Lookup(context.Background(), kube, "ns", tc.account)
			if tc.want != nil {
				if d := cmp.Diff(error(tc.want), err); d != "" {
					t.Errorf("error (-want +got):\n%s", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Name != tc.wantName || a.Namespace != "ns" {
				t.Errorf("account %s/%s, want ns/%s", a.Namespace, a.Name, tc.wantName)
			}
		})
	}
}

func TestLookupTransient(t *testing.T) {
	kube := cluster()
	kube.PrependReactor("get", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	_, err := Lookup(context.Background(), kube, "ns", "")
	if _, ok := errors.AsType[*Error](err); err == nil || ok {
		t.Fatalf("err = %v, want a transient error", err)
	}
}

func TestMay(t *testing.T) {
	kube := cluster("builder")
	var reviews []authorizationv1.SubjectAccessReviewSpec
	kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		reviews = append(reviews, sar.Spec)
		sar.Status.Allowed = sar.Spec.ResourceAttributes.Name == "mine"
		if !sar.Status.Allowed {
			sar.Status.Reason = "no RBAC policy matched"
		}
		return true, sar, nil
	})
	a, err := Lookup(context.Background(), kube, "ns", "builder")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.May(context.Background(), "get", waits, "mine"); err != nil {
		t.Errorf("allowed: %v", err)
	}
	err = a.May(context.Background(), "get", waits, "theirs")
	want := &Error{Denied: true, Message: `service account "builder" may not get waits.wait.tekton-wasm.dev "theirs" in namespace "ns"; ` +
		`bind it to a Role with the rule {apiGroups: ["wait.tekton-wasm.dev"], resources: [waits], verbs: [get], resourceNames: [theirs]} (no RBAC policy matched)`}
	if d := cmp.Diff(error(want), err); d != "" {
		t.Errorf("denied (-want +got):\n%s", d)
	}
	if got := want.Reason("CustomTaskForbidden"); got != "CustomTaskForbidden" {
		t.Errorf("Reason of a denial = %s", got)
	}
	if got := (&Error{}).Reason("CustomTaskForbidden"); got != ReasonServiceAccountNotFound {
		t.Errorf("Reason of a missing account = %s", got)
	}
	spec := func(name string) authorizationv1.SubjectAccessReviewSpec {
		return authorizationv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:ns:builder",
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "ns", Verb: "get", Group: "wait.tekton-wasm.dev", Resource: "waits", Name: name},
		}
	}
	if d := cmp.Diff([]authorizationv1.SubjectAccessReviewSpec{spec("mine"), spec("theirs")}, reviews); d != "" {
		t.Errorf("reviews (-want +got):\n%s", d)
	}
}
