// Package customtask resolves the object a CustomRun's named customRef
// points to: it maps the apiVersion/kind to a resource through discovery
// and reads the object's spec from the run's namespace with the dynamic
// client, so the plugin receives the custom task's definition without the
// controller knowing its type. The controller reads the object with its
// own rights, so it first checks (runtime/access) that the run's service
// account exists and may get that object itself.
//
// Cost per resolution (one per plugin invocation of a run with a named
// customRef): one GET of the ServiceAccount, one SubjectAccessReview and
// one GET of the object; discovery is cached in memory and refreshed when
// a kind is not found, at most once per ResetInterval.
package customtask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/runtime/access"
	"github.com/tekton-wasm/tekton-wasm/runtime/kindmap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apipath "k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Reasons of the errors that end a run: retrying cannot fix them until
// someone changes the cluster.
const (
	// ReasonNotFound: the cluster serves no such kind, or the named object
	// does not exist in the run's namespace.
	ReasonNotFound = "CustomTaskNotFound"
	// ReasonForbidden: the run's service account may not get the object,
	// or the controller may not read objects of that kind. (A service
	// account that does not exist ends the run with
	// access.ReasonServiceAccountNotFound.)
	ReasonForbidden = "CustomTaskForbidden"
)

// ResetInterval is the shortest time between two discovery refreshes
// triggered by an unknown kind.
const ResetInterval = kindmap.ResetInterval

// Error is a resolution failure that ends the run: Reason is the
// condition reason, Error() the message.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Resolver reads custom task objects. It is safe for concurrent use.
type Resolver struct {
	kube    kubernetes.Interface
	dynamic dynamic.Interface
	mapper  *kindmap.Mapper
}

// NewResolver returns a Resolver that discovers resources through kube
// (cached in memory), checks access through kube and reads objects
// through dyn.
func NewResolver(dyn dynamic.Interface, kube kubernetes.Interface, clk clock.PassiveClock) *Resolver {
	return &Resolver{
		kube:    kube,
		dynamic: dyn,
		mapper:  kindmap.New(kube.Discovery(), clk),
	}
}

// Spec returns the spec of the apiVersion/kind object named name in
// namespace, as JSON; nil when the object has no spec. It reads the
// object only if serviceAccount ("" means "default") exists in namespace
// and may get it. A missing kind, object or account, or an object the
// account or the controller may not read, is an *Error; other errors are
// transient (the apiserver could not be reached).
func (r *Resolver) Spec(ctx context.Context, namespace, serviceAccount, apiVersion, kind, name string) (json.RawMessage, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, &Error{ReasonNotFound, fmt.Sprintf("customRef apiVersion %q is not a valid group/version: %v", apiVersion, err)}
	}
	if msgs := apipath.IsValidPathSegmentName(name); len(msgs) > 0 {
		return nil, &Error{ReasonNotFound, fmt.Sprintf("customRef name %q is not a valid object name: %s", name, strings.Join(msgs, "; "))}
	}
	mapping, err := r.mapping(gv.WithKind(kind))
	if err != nil {
		return nil, err
	}
	account, err := access.Lookup(ctx, r.kube, namespace, serviceAccount)
	if err == nil {
		err = account.May(ctx, "get", mapping.Resource.GroupResource(), name)
	}
	if ae, ok := errors.AsType[*access.Error](err); ok {
		return nil, &Error{ae.Reason(ReasonForbidden), fmt.Sprintf("customRef %s %q: %s", kind, name, ae.Message)}
	} else if err != nil {
		return nil, err
	}
	obj, err := r.dynamic.Resource(mapping.Resource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, &Error{ReasonNotFound, fmt.Sprintf("%s %q (%s) does not exist in namespace %q", kind, name, apiVersion, namespace)}
	case apierrors.IsForbidden(err):
		return nil, &Error{ReasonForbidden, fmt.Sprintf("the controller may not get %s %q in namespace %q, although service account %q may: %v; "+
			"grant its ServiceAccount get on %s (see docs/controller.md, \"Named customRef\")",
			mapping.Resource.Resource, name, namespace, account.Name, apierrors.ReasonForError(err), mapping.Resource.GroupResource())}
	case err != nil:
		return nil, fmt.Errorf("getting %s %q in namespace %q: %w", mapping.Resource.Resource, name, namespace, err)
	}
	return specOf(obj)
}

// specOf is obj's spec as JSON; nil when it has none. obj is what its
// owner wrote, decoded by the dynamic client.
func specOf(obj *unstructured.Unstructured) (json.RawMessage, error) {
	spec, found, err := unstructured.NestedFieldNoCopy(obj.Object, "spec")
	if err != nil || !found || spec == nil {
		return nil, nil
	}
	return json.Marshal(spec)
}

// mapping maps gvk to its resource, refreshing discovery once when the
// kind is unknown (a CRD installed since the last refresh).
func (r *Resolver) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := r.mapper.Mapping(gvk)
	switch {
	case meta.IsNoMatchError(err):
		return nil, &Error{ReasonNotFound, fmt.Sprintf("the cluster serves no kind %s in %s; install the custom task's CRD, "+
			"or use an unnamed customRef or a customSpec", gvk.Kind, gvk.GroupVersion())}
	case err != nil:
		return nil, fmt.Errorf("discovering the resource of %s: %w", gvk, err)
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return nil, &Error{ReasonNotFound, fmt.Sprintf("%s in %s is cluster-scoped; a customRef names an object in the run's namespace", gvk.Kind, gvk.GroupVersion())}
	}
	return m, nil
}
