// Command pipeline is the Pipeline custom task
// (pipelines.tekton-wasm.dev/v1alpha1, kind Pipeline) as a tekton-wasm
// plugin: a pipeline in a pipeline. It creates a child tekton.dev/v1
// PipelineRun of the Pipeline its param pipelineRef names, in the run's
// namespace, with the run's other params, through the host's Kubernetes
// capability (hostabi/README.md, "Kubernetes"), so as the run's
// ServiceAccount; it waits for the child with Running and requeueAfter
// (no sandbox is held), and returns the child's pipeline results as its
// own. A cancelled or timed-out run cancels the child in its clean-up
// call.
//
// The child's name is the CustomRun's (with the attempt after the first),
// so that a call repeated after a controller restart finds the child the
// first one made instead of making a second; an ownerReference to the
// CustomRun lets the garbage collector delete it with the run.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o bin/plugins/pipeline.wasm ./plugins/pipeline
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

// Reasons of the run's condition, besides the SDK's param reasons.
const (
	reasonRunning             = "Running"
	reasonSucceeded           = "Succeeded"
	reasonFailed              = "PipelineRunFailed"
	reasonForbidden           = "PipelineRunForbidden"
	reasonNotFound            = "PipelineRunNotFound"
	reasonNotOurs             = "PipelineRunNotOwned"
	reasonRequestFailed       = "RequestFailed"
	reasonCancelled           = "PipelineRunCancelled"
	reasonUnexpectedSpec      = "UnexpectedSpec"
	reasonInvalidPipelineName = "InvalidPipelineRef"
)

// paramPipelineRef names the Pipeline; every other param is the child's.
const paramPipelineRef = "pipelineRef"

// The child and its owner.
const (
	pipelineRunAPIVersion = "tekton.dev/v1"
	pipelineRunKind       = "PipelineRun"
	ownerAPIVersion       = "tekton.dev/v1beta1"
	ownerKind             = "CustomRun"
	defaultAccount        = "default"
	// maxNameLength is the longest child name: Tekton names the child's
	// TaskRuns after it, and labels carry it, so it stays a label value.
	maxNameLength = 63
)

// Polling: every pollFast for the first fastPolls calls, then every
// pollSlow.
const (
	pollFast  = time.Second
	fastPolls = 30
	pollSlow  = 5 * time.Second
)

func main() {
	guest.Run(func(_ context.Context, req *hostabi.Request) (*hostabi.Response, error) {
		return run(req, guest.DoKubernetes)
	})
}

// kubernetes sends one request through the host (guest.DoKubernetes).
type kubernetes func(*hostabi.KubernetesRequest, []byte) (*guest.KubernetesResponse, error)

// state is the run's extraFields while it waits.
type state struct {
	// PipelineRun is the child's name.
	PipelineRun string `json:"pipelineRun"`
	// Polls counts the calls that found it running.
	Polls int `json:"polls"`
}

// pipelineRun is what the plugin reads of a child.
type pipelineRun struct {
	Metadata struct {
		Name            string `json:"name"`
		OwnerReferences []struct {
			UID string `json:"uid"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Status struct {
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
		Results []struct {
			Name  string          `json:"name"`
			Value json.RawMessage `json:"value"`
		} `json:"results"`
	} `json:"status"`
}

func run(req *hostabi.Request, do kubernetes) (*hostabi.Response, error) {
	if len(req.Spec) > 0 {
		return nil, guest.Fail(reasonUnexpectedSpec, "Pipeline takes no spec: name the Pipeline with param %q and pass its params as params", paramPipelineRef)
	}
	ref, err := guest.Params(req).String(paramPipelineRef)
	if err != nil {
		return nil, err
	}
	if !validName(ref) {
		return nil, guest.Fail(reasonInvalidPipelineName, "param %q: %q is not the name of a Pipeline (lower-case letters, digits, '-' and '.')", paramPipelineRef, ref)
	}
	c := &child{req: req, do: do, name: childName(req.Run.Name, req.Attempt)}
	var st state
	if len(req.ExtraFields) > 0 {
		if err := json.Unmarshal(req.ExtraFields, &st); err != nil {
			return nil, fmt.Errorf("the run's extraFields are not this plugin's: %v", err)
		}
	}
	if req.Cleanup != nil {
		return c.cancel(req.Cleanup.Reason)
	}
	var pr *pipelineRun
	if st.PipelineRun == "" {
		pr, err = c.create(ref)
	} else {
		pr, err = c.get(true)
	}
	if err != nil || pr == nil {
		return c.retry(st, err)
	}
	return c.judge(pr, st)
}

// child is the child PipelineRun of one attempt.
type child struct {
	req  *hostabi.Request
	do   kubernetes
	name string
}

// where names the child in messages.
func (c *child) where() string { return "PipelineRun " + c.req.Run.Namespace + "/" + c.name }

// account names the run's ServiceAccount in messages.
func (c *child) account() string {
	sa := c.req.Run.ServiceAccountName
	if sa == "" {
		sa = defaultAccount
	}
	return fmt.Sprintf("service account %q", sa)
}

// send sends r with body; a host error (denied by the manifest, no
// Kubernetes here) ends the run with its message.
func (c *child) send(r *hostabi.KubernetesRequest, body []byte) (*guest.KubernetesResponse, error) {
	resp, err := c.do(r, body)
	if err != nil {
		return nil, guest.Fail(reasonRequestFailed, "%s %s: %v", r.Verb, c.where(), err)
	}
	if resp.Status == 403 {
		_, msg := resp.Failure()
		return nil, guest.Fail(reasonForbidden, "the run's %s may not %s pipelineruns (API group tekton.dev) in namespace %q: "+
			"grant it %s on pipelineruns with a Role and RoleBinding (the apiserver said: %s)", c.account(), r.Verb, c.req.Run.Namespace, r.Verb, msg)
	}
	return resp, nil
}

// create creates the child, or finds the one an earlier call created.
// It returns nil, nil when the apiserver is unavailable for now.
func (c *child) create(ref string) (*pipelineRun, error) {
	body, err := json.Marshal(c.object(ref))
	if err != nil {
		return nil, err
	}
	resp, err := c.send(&hostabi.KubernetesRequest{Verb: hostabi.KubernetesCreate, APIVersion: pipelineRunAPIVersion, Kind: pipelineRunKind}, body)
	switch {
	case err != nil:
		return nil, err
	case resp.Status == 409 && c.req.Run.UID == "":
		// A run outside the cluster (tkn-wasm run) has no uid to own its
		// child by, so it cannot tell its own child from another's.
		return nil, guest.Fail(reasonNotOurs, "%s exists already, and a run outside the cluster cannot tell whether it is its own; delete it or rename the run", c.where())
	case resp.Status == 409: // made by an earlier call of this attempt
		return c.get(false)
	case transient(resp):
		return nil, nil
	case !resp.OK():
		reason, msg := resp.Failure()
		return nil, guest.Fail(reasonRequestFailed, "creating %s: %s: %s", c.where(), reason, msg)
	}
	return decode(resp)
}

// get reads the child; created says the run already recorded it, so
// that its absence means someone deleted it. It returns nil, nil when
// the apiserver is unavailable for now.
func (c *child) get(created bool) (*pipelineRun, error) {
	resp, err := c.send(&hostabi.KubernetesRequest{Verb: hostabi.KubernetesGet, APIVersion: pipelineRunAPIVersion, Kind: pipelineRunKind, Name: c.name}, nil)
	switch {
	case err != nil:
		return nil, err
	case resp.Status == 404 && created:
		return nil, guest.Fail(reasonNotFound, "%s was deleted while the run waited for it", c.where())
	case resp.Status == 404: // deleted between our create and get: make it again next call
		return nil, nil
	case transient(resp):
		return nil, nil
	case !resp.OK():
		reason, msg := resp.Failure()
		return nil, guest.Fail(reasonRequestFailed, "getting %s: %s: %s", c.where(), reason, msg)
	}
	pr, err := decode(resp)
	if err != nil {
		return nil, err
	}
	if uid := c.req.Run.UID; uid != "" && !ownedBy(pr, uid) {
		return nil, guest.Fail(reasonNotOurs, "%s exists and is not this run's (no ownerReference to CustomRun %s); delete or rename it", c.where(), c.req.Run.Name)
	}
	return pr, nil
}

// object is the child PipelineRun.
func (c *child) object(ref string) map[string]any {
	meta := map[string]any{"name": c.name, "namespace": c.req.Run.Namespace}
	if uid := c.req.Run.UID; uid != "" {
		meta["ownerReferences"] = []any{map[string]any{
			"apiVersion": ownerAPIVersion, "kind": ownerKind, "name": c.req.Run.Name, "uid": uid, "controller": true,
		}}
	}
	var params []any
	for _, p := range c.req.Params {
		if p.Name != paramPipelineRef {
			params = append(params, p)
		}
	}
	spec := map[string]any{"pipelineRef": map[string]any{"name": ref}}
	if len(params) > 0 {
		spec["params"] = params
	}
	if sa := c.req.Run.ServiceAccountName; sa != "" {
		spec["taskRunTemplate"] = map[string]any{"serviceAccountName": sa}
	}
	return map[string]any{"apiVersion": pipelineRunAPIVersion, "kind": pipelineRunKind, "metadata": meta, "spec": spec}
}

// judge turns the child's condition into the run's answer.
func (c *child) judge(pr *pipelineRun, st state) (*hostabi.Response, error) {
	for _, cond := range pr.Status.Conditions {
		if cond.Type != "Succeeded" {
			continue
		}
		switch cond.Status {
		case "True":
			return c.succeeded(pr)
		case "False":
			return nil, guest.Fail(reasonFailed, "%s failed: %s: %s", c.where(), cond.Reason, cond.Message)
		}
		st.PipelineRun, st.Polls = c.name, st.Polls+1
		return running(st, fmt.Sprintf("%s: %s: %s", c.where(), cond.Reason, cond.Message))
	}
	st.PipelineRun, st.Polls = c.name, st.Polls+1
	return running(st, c.where()+" has started")
}

// succeeded returns the child's pipeline results as the run's: a string
// as it is, an array or object as JSON.
func (c *child) succeeded(pr *pipelineRun) (*hostabi.Response, error) {
	resp := &hostabi.Response{Status: hostabi.StatusSucceeded, Reason: reasonSucceeded, Message: c.where() + " succeeded"}
	for _, r := range pr.Status.Results {
		var s string
		if json.Unmarshal(r.Value, &s) != nil {
			s = string(r.Value)
		}
		resp.Results = append(resp.Results, hostabi.Result{Name: r.Name, Value: s})
	}
	return resp, nil
}

// cancel is the clean-up call: it cancels the child (which Tekton then
// stops, cancelling its TaskRuns and CustomRuns). Its answer cannot
// change the run's outcome; it says what happened.
func (c *child) cancel(why hostabi.CleanupReason) (*hostabi.Response, error) {
	patch := []byte(`{"spec":{"status":"Cancelled"}}`)
	resp, err := c.send(&hostabi.KubernetesRequest{Verb: hostabi.KubernetesPatch, APIVersion: pipelineRunAPIVersion, Kind: pipelineRunKind, Name: c.name}, patch)
	switch {
	case err != nil:
		return nil, err
	case resp.Status == 404:
		return &hostabi.Response{Status: hostabi.StatusFailed, Reason: reasonCancelled, Message: fmt.Sprintf("%s: %s does not exist; nothing to cancel", why, c.where())}, nil
	case !resp.OK():
		reason, msg := resp.Failure()
		return nil, guest.Fail(reasonRequestFailed, "cancelling %s: %s: %s", c.where(), reason, msg)
	}
	return &hostabi.Response{Status: hostabi.StatusFailed, Reason: reasonCancelled, Message: fmt.Sprintf("%s: cancelled %s", why, c.where())}, nil
}

// retry answers Running after a failure the next call may not see: the
// apiserver was unavailable, or the child vanished between create and
// get.
func (c *child) retry(st state, err error) (*hostabi.Response, error) {
	if err != nil {
		return nil, err
	}
	return running(st, "the Kubernetes API is unavailable; trying again")
}

func running(st state, msg string) (*hostabi.Response, error) {
	extra, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	every := pollFast
	if st.Polls > fastPolls {
		every = pollSlow
	}
	return &hostabi.Response{Status: hostabi.StatusRunning, Reason: reasonRunning, Message: msg,
		ExtraFields: extra, RequeueAfter: hostabi.Duration{Duration: every}}, nil
}

// transient reports whether resp is an answer worth asking again later:
// the apiserver is overloaded or unavailable.
func transient(resp *guest.KubernetesResponse) bool {
	return resp.Status == 429 || resp.Status >= 500
}

func decode(resp *guest.KubernetesResponse) (*pipelineRun, error) {
	var pr pipelineRun
	if err := resp.Decode(&pr); err != nil {
		return nil, guest.Fail(reasonRequestFailed, "%v", err)
	}
	return &pr, nil
}

func ownedBy(pr *pipelineRun, uid string) bool {
	for _, o := range pr.Metadata.OwnerReferences {
		if o.UID == uid {
			return true
		}
	}
	return false
}

// childName is the child's name for attempt of run: the run's name, with
// "-retryN" after the first attempt, shortened with a hash of the whole
// when it would be longer than maxNameLength.
func childName(runName string, attempt int) string {
	name := runName
	if attempt > 1 {
		name = fmt.Sprintf("%s-retry%d", runName, attempt-1)
	}
	if len(name) <= maxNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:4])
	return strings.TrimRight(name[:maxNameLength-len(h)-1], "-.") + "-" + h
}

// validName reports whether s can name a Pipeline (a DNS subdomain).
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !alnum && (r != '-' && r != '.' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}
