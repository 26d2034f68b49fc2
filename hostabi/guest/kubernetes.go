package guest

import (
	"encoding/json"
	"fmt"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// KubernetesResponse is the apiserver's answer to DoKubernetes.
type KubernetesResponse struct {
	// Status is the HTTP status code: 200 or 201 for success, 404 for
	// an object that does not exist, 403 for a request the run's
	// ServiceAccount may not make, 409 for one that already exists...
	Status int
	// Body is the object, the list, or (for an error) a Status object,
	// as JSON.
	Body []byte
}

// OK reports whether the answer is a success (2xx).
func (r *KubernetesResponse) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Decode decodes the body into v.
func (r *KubernetesResponse) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("the Kubernetes API's answer (status %d) is not the JSON expected: %v", r.Status, err)
	}
	return nil
}

// Failure is the reason and message of an answer that is not a success,
// from its Status object ("Forbidden", "pipelineruns.tekton.dev is
// forbidden: User ... cannot create ..."); the HTTP status when the body
// is no Status.
func (r *KubernetesResponse) Failure() (reason, message string) {
	var s struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if json.Unmarshal(r.Body, &s) != nil || s.Message == "" {
		return s.Reason, fmt.Sprintf("the Kubernetes API answered with status %d", r.Status)
	}
	return s.Reason, s.Message
}

// DoKubernetes sends req, with body (the object to create, or the
// patch; nil for get, list and delete), through the host's Kubernetes
// capability (hostabi/README.md, "Kubernetes"). The host makes it as the
// run's ServiceAccount, in the run's namespace, if the manifest's rules
// (capabilities.kubernetes) allow it; else the plugin does not load (no
// grant) or gets an *hostabi.Error with hostabi.ErrnoDenied (outside
// the rules). Any answer of the apiserver, a 403 or a 404 included, is a
// response, not an error. A plugin that never calls DoKubernetes does
// not import the host function.
//
// The call blocks the plugin until the answer is read: the host, not a
// context, stops it when the call ends.
func DoKubernetes(req *hostabi.KubernetesRequest, body []byte) (*KubernetesResponse, error) {
	doc, err := json.Marshal(req)
	if err != nil {
		return nil, &hostabi.Error{Errno: hostabi.ErrnoInval, Message: fmt.Sprintf("encoding the request: %v", err)}
	}
	status, b, err := kubernetesRequest(doc, body)
	if err != nil {
		return nil, err
	}
	return &KubernetesResponse{Status: status, Body: b}, nil
}
