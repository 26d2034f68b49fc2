// Package kubecap owns the Kubernetes capability of plugins
// (hostabi/README.md, "Kubernetes"): the rules a manifest declares
// (capabilities.kubernetes) and the client that sends a plugin's
// requests to the apiserver as the run's ServiceAccount, once the host
// has checked them against those rules and the run's namespace, with the
// ABI's limits on sizes and counts.
//
// Identity. The controller makes every request with its own credentials
// and the header Impersonate-User: system:serviceaccount:NS:SA, so the
// apiserver authorizes it as that account (with its groups) and the
// cluster's RBAC decides; the controller needs impersonate on
// serviceaccounts and lends none of its other rights. Impersonation was
// chosen over TokenRequest: no token is minted, held or cached, nothing
// outlives the request, the audit log names both the controller and the
// account, and it needs no token signer configured on the apiserver. It
// is no larger a grant: create on serviceaccounts/token would give the
// controller any account's rights just the same.
//
// It knows nothing of wasm: the engine reads a plugin's request document
// and body out of its memory, hands them to a Session, and hands the
// Response back.
package kubecap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	apipath "k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"k8s.io/utils/clock"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability"
	"github.com/tekton-wasm/tekton-wasm/runtime/kindmap"
)

// DefaultSetting is what a denial tells the user to change.
const DefaultSetting = "capabilities.kubernetes in the plugin's manifest"

// Client sends plugins' Kubernetes requests to one apiserver. It is safe
// for concurrent use; each call of a plugin uses a Session of its own.
type Client struct {
	server *url.URL // the apiserver's base URL
	http   *http.Client
	mapper *kindmap.Mapper
}

// New returns a Client for the apiserver cfg names, with cfg's
// credentials (the controller's, or a kubeconfig's user for tkn-wasm).
// It discovers kinds with those credentials (discovery is readable by
// any authenticated user).
func New(cfg *rest.Config) (*Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	server, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	return newClient(server, hc, dc), nil
}

func newClient(server *url.URL, hc *http.Client, d discovery.DiscoveryInterface) *Client {
	return &Client{server: server, http: hc, mapper: kindmap.New(d, clock.RealClock{})}
}

// Identity is who a Session's requests act as, and where.
type Identity struct {
	// Namespace is the run's: the only namespace of namespaced requests.
	Namespace string
	// ServiceAccount, in Namespace, is impersonated; "" makes the
	// requests as the Client's own user (tkn-wasm run --kubeconfig).
	ServiceAccount string
}

// user is the user name id impersonates, "" for none.
func (id Identity) user() string {
	if id.ServiceAccount == "" {
		return ""
	}
	return "system:serviceaccount:" + id.Namespace + ":" + id.ServiceAccount
}

// who names the identity in messages.
func (id Identity) who() string {
	if id.ServiceAccount == "" {
		return "the kubeconfig's user"
	}
	return fmt.Sprintf("service account %s/%s", id.Namespace, id.ServiceAccount)
}

// Options are the host's settings of a Session.
type Options struct {
	// Setting names, in denials, what the user changes to allow a
	// request; "" means DefaultSetting.
	Setting string
	// Observe, if set, is called once per request a plugin makes, with
	// its errno (ErrnoSuccess for an answer of any status); for metrics.
	Observe func(hostabi.Errno)
}

// Session is the Kubernetes capability of one call: the manifest's
// rules, the identity and namespace of the run, and the count of the
// call's requests against hostabi.MaxKubernetesRequests. It is used by
// one goroutine at a time (the call's).
type Session struct {
	c     *Client
	rules []Rule
	id    Identity
	opts  Options
	n     int
}

// Session returns a Session for one call of a plugin whose manifest
// declares rules (checked with ValidateRules), acting as id.
func (c *Client) Session(rules []Rule, id Identity, o Options) *Session {
	if o.Setting == "" {
		o.Setting = DefaultSetting
	}
	return &Session{c: c, rules: rules, id: id, opts: o}
}

// Error is a failed request, with the errno the plugin receives and a
// message for it.
type Error = hostabi.Error

func errorf(errno hostabi.Errno, format string, args ...any) *Error {
	return &Error{Errno: errno, Message: fmt.Sprintf(format, args...)}
}

// Response is the apiserver's answer as the plugin receives it: its HTTP
// status and body (the object, the list, or a Status for an error).
type Response struct {
	Status int
	Body   []byte
}

// Do sends the request doc describes (a hostabi.KubernetesRequest, JSON)
// with body, and returns the apiserver's answer, whatever its status (a
// 403 is a Response: the run's account may not; the plugin decides what
// it means). ctx is the call's: when it ends, the request is abandoned.
// Every error is an *Error: EINVAL, EDENIED (outside the manifest's
// rules or the run's namespace), ETOOLARGE, ELIMIT or EIO. Do keeps
// neither doc nor body once it returns.
func (s *Session) Do(ctx context.Context, doc, body []byte) (resp *Response, err error) {
	defer func() {
		if s.opts.Observe != nil {
			s.opts.Observe(hostabi.ErrnoOf(err))
		}
	}()
	r, err := parse(doc, body)
	if err != nil {
		return nil, err
	}
	if s.n >= hostabi.MaxKubernetesRequests {
		return nil, errorf(hostabi.ErrnoLimit, "the plugin made %d Kubernetes requests in this call, the most one call may make (MaxKubernetesRequests)", s.n)
	}
	s.n++
	req, err := s.newRequest(ctx, r, body)
	if err != nil {
		return nil, err
	}
	hr, err := s.c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errorf(hostabi.ErrnoCanceled, "the Kubernetes request was stopped: the call's deadline passed or the run was cancelled")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, errorf(hostabi.ErrnoIO, "the Kubernetes API did not answer %s %s: %v", r.Verb, r.Kind, err)
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hr.Body, hostabi.MaxKubernetesResponseBytes+1))
	switch {
	case err != nil:
		return nil, errorf(hostabi.ErrnoIO, "reading the Kubernetes API's answer to %s %s: %v", r.Verb, r.Kind, err)
	case len(b) > hostabi.MaxKubernetesResponseBytes:
		return nil, errorf(hostabi.ErrnoTooLarge, "the Kubernetes API's answer to %s %s is over %d bytes (MaxKubernetesResponseBytes); page a list with limit and continue",
			r.Verb, r.Kind, hostabi.MaxKubernetesResponseBytes)
	}
	return &Response{Status: hr.StatusCode, Body: b}, nil
}

// limits bound a request document and body.
var limits = capability.Limits{
	Doc: hostabi.MaxKubernetesRequestJSONBytes, DocName: "MaxKubernetesRequestJSONBytes",
	Body: hostabi.MaxKubernetesBodyBytes, BodyName: "MaxKubernetesBodyBytes",
}

// parse decodes and checks a request document and its body, before
// anything is asked of the cluster.
func parse(doc, body []byte) (*hostabi.KubernetesRequest, error) {
	var r hostabi.KubernetesRequest
	if err := capability.Decode(doc, body, limits, "a Kubernetes request", &r); err != nil {
		return nil, err
	}
	hasBody := r.Verb == hostabi.KubernetesCreate || r.Verb == hostabi.KubernetesPatch
	switch {
	case r.Verb != hostabi.KubernetesGet && r.Verb != hostabi.KubernetesList && !hasBody && r.Verb != hostabi.KubernetesDelete:
		return nil, errorf(hostabi.ErrnoInval, "verb %q is not one the host serves (get, list, create, patch, delete)", r.Verb)
	case r.APIVersion == "" || r.Kind == "":
		return nil, errorf(hostabi.ErrnoInval, "the request names no apiVersion and kind")
	case r.Name == "" && (r.Verb == hostabi.KubernetesGet || r.Verb == hostabi.KubernetesPatch || r.Verb == hostabi.KubernetesDelete):
		return nil, errorf(hostabi.ErrnoInval, "%s needs the object's name", r.Verb)
	case r.Verb == hostabi.KubernetesList && r.Name != "":
		return nil, errorf(hostabi.ErrnoInval, "list takes no name: select with labelSelector")
	case r.Verb == hostabi.KubernetesCreate && r.Name != "":
		return nil, errorf(hostabi.ErrnoInval, "create takes no name: the body's metadata.name (or generateName) names the object")
	case hasBody && len(body) == 0:
		return nil, errorf(hostabi.ErrnoInval, "%s needs a body: the object, or the patch", r.Verb)
	case !hasBody && len(body) > 0:
		return nil, errorf(hostabi.ErrnoInval, "%s takes no body", r.Verb)
	case r.Verb != hostabi.KubernetesList && (r.LabelSelector != "" || r.Limit != 0 || r.Continue != ""):
		return nil, errorf(hostabi.ErrnoInval, "labelSelector, limit and continue are for list only")
	case r.Limit < 0:
		return nil, errorf(hostabi.ErrnoInval, "limit %d is negative", r.Limit)
	case r.Verb != hostabi.KubernetesPatch && (r.PatchType != "" || r.Force):
		return nil, errorf(hostabi.ErrnoInval, "patchType and force are for patch only")
	case r.PatchType != "" && r.PatchType != hostabi.KubernetesPatchMerge && r.PatchType != hostabi.KubernetesPatchApply:
		return nil, errorf(hostabi.ErrnoInval, "patchType %q is neither %q nor %q", r.PatchType, hostabi.KubernetesPatchMerge, hostabi.KubernetesPatchApply)
	case r.Force && r.PatchType != hostabi.KubernetesPatchApply:
		return nil, errorf(hostabi.ErrnoInval, "force is for an apply patch only")
	case !hasBody && r.FieldManager != "":
		return nil, errorf(hostabi.ErrnoInval, "fieldManager is for create and patch only")
	}
	for what, v := range map[string]string{"name": r.Name, "namespace": r.Namespace} {
		if v == "" {
			continue
		}
		if msgs := apipath.IsValidPathSegmentName(v); len(msgs) > 0 {
			return nil, errorf(hostabi.ErrnoInval, "%s %q is not valid: %s", what, v, strings.Join(msgs, "; "))
		}
	}
	if r.LabelSelector != "" {
		if _, err := labels.Parse(r.LabelSelector); err != nil {
			return nil, errorf(hostabi.ErrnoInval, "labelSelector %q: %v", r.LabelSelector, err)
		}
	}
	return &r, nil
}

// newRequest checks r against the manifest's rules and the run's
// namespace, and builds the HTTP request for it.
func (s *Session) newRequest(ctx context.Context, r *hostabi.KubernetesRequest, body []byte) (*http.Request, error) {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return nil, errorf(hostabi.ErrnoInval, "apiVersion %q is not a group/version: %v", r.APIVersion, err)
	}
	if !allowsGroup(s.rules, gv.Group, r.Verb) {
		return nil, s.denied(r.Verb, r.Kind+" in "+groupName(gv.Group), gv.Group, "*")
	}
	m, err := s.c.mapper.Mapping(gv.WithKind(r.Kind))
	switch {
	case meta.IsNoMatchError(err):
		return nil, errorf(hostabi.ErrnoInval, "the cluster serves no kind %s in %s", r.Kind, r.APIVersion)
	case err != nil:
		return nil, errorf(hostabi.ErrnoIO, "discovering the resource of %s %s: %v", r.APIVersion, r.Kind, err)
	}
	res := m.Resource
	if !allows(s.rules, res.Group, res.Resource, r.Verb) {
		return nil, s.denied(r.Verb, res.GroupResource().String(), res.Group, res.Resource)
	}
	segments := []string{"/api", res.Version}
	if res.Group != "" {
		segments = []string{"/apis", res.Group, res.Version}
	}
	ns := r.Namespace
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ns == "" {
			ns = s.id.Namespace
		}
		if ns != s.id.Namespace {
			return nil, errorf(hostabi.ErrnoDenied, "%s %s in namespace %q is not allowed: a plugin reaches the run's namespace %q only", r.Verb, res.GroupResource(), ns, s.id.Namespace)
		}
		segments = append(segments, "namespaces", ns)
	} else if ns != "" {
		return nil, errorf(hostabi.ErrnoInval, "%s is cluster-scoped: the request may name no namespace", res.GroupResource())
	}
	segments = append(segments, res.Resource)
	if r.Name != "" {
		segments = append(segments, r.Name)
	}
	u := *s.c.server
	u.Path = path.Join(append([]string{u.Path}, segments...)...)
	q := url.Values{}
	method, contentType := http.MethodGet, ""
	switch r.Verb {
	case hostabi.KubernetesList:
		if r.LabelSelector != "" {
			q.Set("labelSelector", r.LabelSelector)
		}
		if r.Limit > 0 {
			q.Set("limit", strconv.FormatInt(r.Limit, 10))
		}
		if r.Continue != "" {
			q.Set("continue", r.Continue)
		}
	case hostabi.KubernetesCreate:
		method, contentType = http.MethodPost, "application/json"
	case hostabi.KubernetesPatch:
		method, contentType = http.MethodPatch, "application/merge-patch+json"
		if r.PatchType == hostabi.KubernetesPatchApply {
			contentType = "application/apply-patch+yaml" // JSON is YAML
			if r.FieldManager == "" {
				r.FieldManager = hostabi.KubernetesDefaultFieldManager
			}
			if r.Force {
				q.Set("force", "true")
			}
		}
	case hostabi.KubernetesDelete:
		method = http.MethodDelete
	}
	if r.FieldManager != "" {
		q.Set("fieldManager", r.FieldManager)
	}
	u.RawQuery = q.Encode()
	req, err := capability.NewRequest(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if user := s.id.user(); user != "" {
		req.Header.Set(transport.ImpersonateUserHeader, user)
	}
	return req, nil
}

// denied is the EDENIED of a request outside the manifest's rules, with
// the rule that would allow it.
func (s *Session) denied(verb, what, group, resource string) *Error {
	return errorf(hostabi.ErrnoDenied, "%s %s is not allowed: no rule of %s grants it; add {apiGroups: [%q], resources: [%q], verbs: [%q]} to allow it (the run's %s must be allowed it too)",
		verb, what, s.opts.Setting, group, resource, verb, s.id.who())
}

func groupName(g string) string {
	if g == "" {
		return "the core group"
	}
	return g
}
