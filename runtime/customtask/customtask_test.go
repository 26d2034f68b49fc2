package customtask

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/runtime/access"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

var (
	coreServed = &metav1.APIResourceList{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: metav1.Verbs{"get"}}},
	}
	waitGVR     = schema.GroupVersionResource{Group: "wait.tekton-wasm.dev", Version: "v1alpha1", Resource: "waits"}
	waitsServed = &metav1.APIResourceList{
		GroupVersion: "wait.tekton-wasm.dev/v1alpha1",
		APIResources: []metav1.APIResource{
			{Name: "waits", Kind: "Wait", Namespaced: true, Verbs: metav1.Verbs{"get"}},
			{Name: "clusterwaits", Kind: "ClusterWait", Namespaced: false, Verbs: metav1.Verbs{"get"}},
		},
	}
)

func object(name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "wait.tekton-wasm.dev/v1alpha1",
		"kind":       "Wait",
		"metadata":   map[string]any{"name": name, "namespace": "ns"},
	}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

type world struct {
	resolver *Resolver
	kube     *kubefake.Clientset
	disc     *fakediscovery.FakeDiscovery
	dyn      *dynamicfake.FakeDynamicClient
	clock    *clocktesting.FakeClock
	reviews  []authorizationv1.ResourceAttributes // every SubjectAccessReview
}

// newWorld serves the resources served and the custom task objects objs,
// in a namespace "ns" with the service accounts "default" and "builder",
// which may get every object except those named "private".
func newWorld(served []*metav1.APIResourceList, objs ...runtime.Object) *world {
	kube := kubefake.NewClientset(
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "builder"}})
	disc := kube.Discovery().(*fakediscovery.FakeDiscovery)
	disc.Resources = served
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{waitGVR: "WaitList"}, objs...)
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC))
	w := &world{resolver: NewResolver(dyn, kube, clk), kube: kube, disc: disc, dyn: dyn, clock: clk}
	kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		w.reviews = append(w.reviews, *sar.Spec.ResourceAttributes)
		sar.Status.Allowed = sar.Spec.ResourceAttributes.Name != "private"
		return true, sar, nil
	})
	return w
}

func TestSpec(t *testing.T) {
	w := newWorld([]*metav1.APIResourceList{coreServed, waitsServed},
		object("five-seconds", map[string]any{"duration": "5s", "reason": map[string]any{"text": "x"}}),
		object("no-spec", nil))
	for _, tc := range []struct {
		name, apiVersion, kind, object string
		want                           string
		wantErr                        *Error
	}{{
		name: "spec of the named object", apiVersion: "wait.tekton-wasm.dev/v1alpha1", kind: "Wait", object: "five-seconds",
		want: `{"duration":"5s","reason":{"text":"x"}}`,
	}, {
		name: "object without spec", apiVersion: "wait.tekton-wasm.dev/v1alpha1", kind: "Wait", object: "no-spec",
	}, {
		name: "missing object", apiVersion: "wait.tekton-wasm.dev/v1alpha1", kind: "Wait", object: "ten-seconds",
		wantErr: &Error{ReasonNotFound, `Wait "ten-seconds" (wait.tekton-wasm.dev/v1alpha1) does not exist in namespace "ns"`},
	}, {
		name: "unknown kind", apiVersion: "wait.tekton-wasm.dev/v1alpha1", kind: "Sleep", object: "x",
		wantErr: &Error{ReasonNotFound, "the cluster serves no kind Sleep in wait.tekton-wasm.dev/v1alpha1; install the custom task's CRD, or use an unnamed customRef or a customSpec"},
	}, {
		name: "cluster-scoped kind", apiVersion: "wait.tekton-wasm.dev/v1alpha1", kind: "ClusterWait", object: "x",
		wantErr: &Error{ReasonNotFound, "ClusterWait in wait.tekton-wasm.dev/v1alpha1 is cluster-scoped; a customRef names an object in the run's namespace"},
	}, {
		name: "invalid apiVersion", apiVersion: "a/b/c", kind: "Wait", object: "x",
		wantErr: &Error{ReasonNotFound, `customRef apiVersion "a/b/c" is not a valid group/version: unexpected GroupVersion string: a/b/c`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := w.resolver.Spec(context.Background(), "ns", "", tc.apiVersion, tc.kind, tc.object)
			var gotErr *Error
			if err != nil && !errors.As(err, &gotErr) {
				t.Fatalf("transient error %v, want %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.wantErr, gotErr); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if string(got) != tc.want {
				t.Errorf("spec = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestForbidden(t *testing.T) {
	w := newWorld([]*metav1.APIResourceList{coreServed, waitsServed})
	w.dyn.PrependReactor("get", "waits", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(waitGVR.GroupResource(), "x", errors.New("RBAC: access denied"))
	})
	_, err := w.resolver.Spec(context.Background(), "ns", "", "wait.tekton-wasm.dev/v1alpha1", "Wait", "x")
	want := &Error{ReasonForbidden, `the controller may not get waits "x" in namespace "ns", although service account "default" may: Forbidden; ` +
		`grant its ServiceAccount get on waits.wait.tekton-wasm.dev (see docs/controller.md, "Named customRef")`}
	if d := cmp.Diff(error(want), err); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
}

func TestTransientError(t *testing.T) {
	w := newWorld([]*metav1.APIResourceList{coreServed, waitsServed})
	w.dyn.PrependReactor("get", "waits", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	_, err := w.resolver.Spec(context.Background(), "ns", "", "wait.tekton-wasm.dev/v1alpha1", "Wait", "x")
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("err = %v, want a transient error", err)
	}
}

// A CRD installed after the first lookup is found once discovery may be
// refreshed again.
func TestKindInstalledLater(t *testing.T) {
	w := newWorld([]*metav1.APIResourceList{coreServed}, object("five-seconds", map[string]any{"duration": "5s"}))
	get := func() error {
		_, err := w.resolver.Spec(context.Background(), "ns", "", "wait.tekton-wasm.dev/v1alpha1", "Wait", "five-seconds")
		return err
	}
	if err := get(); err == nil {
		t.Fatal("found a kind the cluster does not serve")
	}
	w.disc.Resources = []*metav1.APIResourceList{coreServed, waitsServed}
	if err := get(); err == nil {
		t.Fatalf("discovery was refreshed twice within %s", ResetInterval)
	}
	w.clock.Step(ResetInterval)
	if err := get(); err != nil {
		t.Fatalf("after %s: %v", ResetInterval, err)
	}
}

// The object is read only if the run's service account exists and may get
// it: the review names the object's API group, resource and name.
func TestAccess(t *testing.T) {
	w := newWorld([]*metav1.APIResourceList{coreServed, waitsServed},
		object("five-seconds", map[string]any{"duration": "5s"}), object("private", map[string]any{"duration": "1s"}))
	for _, tc := range []struct {
		name, serviceAccount, object string
		want                         *Error
		wantReview                   bool
	}{{
		name: "allowed", serviceAccount: "builder", object: "five-seconds", wantReview: true,
	}, {
		name: "the service account may not get the object", serviceAccount: "builder", object: "private", wantReview: true,
		want: &Error{ReasonForbidden, `customRef Wait "private": service account "builder" may not get waits.wait.tekton-wasm.dev "private" in namespace "ns"; ` +
			`bind it to a Role with the rule {apiGroups: ["wait.tekton-wasm.dev"], resources: [waits], verbs: [get], resourceNames: [private]}`},
	}, {
		name: "the service account does not exist", serviceAccount: "deleted", object: "five-seconds",
		want: &Error{access.ReasonServiceAccountNotFound, `customRef Wait "five-seconds": service account "deleted" does not exist in namespace "ns"; ` +
			`create it, or set the run's serviceAccountName to an account that exists (the default is "default")`},
	}, {
		name: "the name is not an object name", serviceAccount: "builder", object: "a/b",
		want: &Error{ReasonNotFound, `customRef name "a/b" is not a valid object name: may not contain '/'`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w.reviews = nil
			got, err := w.resolver.Spec(context.Background(), "ns", tc.serviceAccount, "wait.tekton-wasm.dev/v1alpha1", "Wait", tc.object)
			if tc.want == nil {
				if err != nil || string(got) != `{"duration":"5s"}` {
					t.Fatalf("Spec = %s, %v", got, err)
				}
			} else if d := cmp.Diff(error(tc.want), err); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			var want []authorizationv1.ResourceAttributes
			if tc.wantReview {
				want = []authorizationv1.ResourceAttributes{{Namespace: "ns", Verb: "get", Group: "wait.tekton-wasm.dev", Resource: "waits", Name: tc.object}}
			}
			if d := cmp.Diff(want, w.reviews); d != "" {
				t.Errorf("reviews (-want +got):\n%s", d)
			}
		})
	}
}
