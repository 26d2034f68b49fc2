// Package access decides whether a CustomRun's service account may do
// what the controller is about to do on the run's behalf: "may service
// account <sa> of namespace <ns> <verb> <group/resource/name> there?".
// The controller reads ConfigMaps, Secrets and custom task objects with
// its own rights; this check keeps a run from seeing what its own
// service account could not.
//
// Lookup first requires the account to exist, as pod admission does: a
// RoleBinding left behind for a deleted (or not yet created) account
// would otherwise still grant its reads to any run that names it.
// Account.May then asks the apiserver with a SubjectAccessReview.
//
// Nothing is cached, so a revoked binding or a deleted account takes
// effect at the next invocation. Cost: Lookup is one GET of a
// ServiceAccount, May one SubjectAccessReview (a create); the controller
// needs get on serviceaccounts and create on subjectaccessreviews.
package access

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
)

// ReasonServiceAccountNotFound is the condition reason of a run whose
// serviceAccountName names no ServiceAccount in its namespace (or is not
// a valid ServiceAccount name).
const ReasonServiceAccountNotFound = "ServiceAccountNotFound"

// DefaultServiceAccount is the account of a run without serviceAccountName.
const DefaultServiceAccount = "default"

// Error is a check that failed for a reason the run's owner (or the
// controller's installer) must fix: retrying cannot help.
type Error struct {
	// Denied is true when access is refused (to the account, or to the
	// controller itself); false when the account does not exist.
	Denied  bool
	Message string
}

func (e *Error) Error() string { return e.Message }

// Reason is the condition reason for e: forbidden, the caller's own
// reason for a denial, or ReasonServiceAccountNotFound.
func (e *Error) Reason(forbidden string) string {
	if e.Denied {
		return forbidden
	}
	return ReasonServiceAccountNotFound
}

// Account is a service account that existed when it was looked up.
type Account struct {
	kube      kubernetes.Interface
	Namespace string
	Name      string
}

// Lookup returns the service account name ("" means
// DefaultServiceAccount) of namespace, or an *Error when it does not
// exist or the controller may not read it. Other errors are transient.
func Lookup(ctx context.Context, kube kubernetes.Interface, namespace, name string) (*Account, error) {
	if name == "" {
		name = DefaultServiceAccount
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return nil, &Error{Message: fmt.Sprintf("serviceAccountName %q is not a valid ServiceAccount name: %s", name, strings.Join(msgs, "; "))}
	}
	_, err := kube.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, &Error{Message: fmt.Sprintf("service account %q does not exist in namespace %q; "+
			"create it, or set the run's serviceAccountName to an account that exists (the default is %q)", name, namespace, DefaultServiceAccount)}
	case apierrors.IsForbidden(err):
		return nil, &Error{Denied: true, Message: fmt.Sprintf("the controller may not get service account %q in namespace %q; "+
			"grant it get on serviceaccounts (the tekton-wasm-controller ClusterRole)", name, namespace)}
	case err != nil:
		return nil, fmt.Errorf("reading service account %q in namespace %q: %w", name, namespace, err)
	}
	return &Account{kube: kube, Namespace: namespace, Name: name}, nil
}

// User is the account's user name in authorization requests.
func (a *Account) User() string {
	return "system:serviceaccount:" + a.Namespace + ":" + a.Name
}

// May returns nil when the account may verb the object name of resource
// in its namespace, an *Error (Denied) naming the Role rule to bind when
// it may not, and a transient error when the review failed.
func (a *Account) May(ctx context.Context, verb string, resource schema.GroupResource, name string) error {
	review, err := a.kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   a.User(),
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + a.Namespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.Namespace, Verb: verb, Group: resource.Group, Resource: resource.Resource, Name: name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("reviewing whether service account %q may %s %s %q: %w", a.Name, verb, resource, name, err)
	}
	if review.Status.Allowed {
		return nil
	}
	msg := fmt.Sprintf("service account %q may not %s %s %q in namespace %q; bind it to a Role with the rule "+
		"{apiGroups: [%q], resources: [%s], verbs: [%s], resourceNames: [%s]}",
		a.Name, verb, resource, name, a.Namespace, resource.Group, resource.Resource, verb, name)
	if r := review.Status.Reason; r != "" {
		msg += " (" + r + ")"
	}
	return &Error{Denied: true, Message: msg}
}
