package lifecycle

import (
	"encoding/json"
	"maps"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
)

// Inputs are what a request carries beside the run: what the caller
// resolved and prepared for the invocation.
type Inputs struct {
	// Spec is the spec of the object a named customRef points to, as the
	// caller resolved it; nil when the run has none (a customSpec's spec
	// is taken from the run).
	Spec json.RawMessage
	// Workspaces are the run's workspaces as the plugin sees them, as the
	// caller prepared and mounts them.
	Workspaces []hostabi.Workspace
}

// Request builds the whole plugin request for the call act asks for: an
// Invoke, or a Cleanup, whose request is marked as the clean-up call
// (hostabi.Request.Cleanup) and whose deadline is the end of its grace
// period.
func (m *Machine) Request(run *v1beta1.CustomRun, act Action, in Inputs) *hostabi.Request {
	apiVersion, kind := Target(run)
	req := &hostabi.Request{
		ABIVersion: hostabi.Version,
		Run: hostabi.RunIdentity{
			Name:               run.Name,
			Namespace:          run.Namespace,
			UID:                string(run.UID),
			Labels:             run.Labels,
			ServiceAccountName: run.Spec.ServiceAccountName,
		},
		APIVersion:  apiVersion,
		Kind:        kind,
		Attempt:     act.Attempt,
		Retries:     run.Spec.Retries,
		ExtraFields: run.Status.ExtraFields.Raw,
		Spec:        in.Spec,
		Workspaces:  in.Workspaces,
	}
	if run.Status.StartTime != nil {
		req.StartTime = run.Status.StartTime.Time
	}
	if !act.Deadline.IsZero() {
		d := act.Deadline
		req.Deadline = &d
	}
	if act.Cleanup != "" {
		req.Cleanup = &hostabi.Cleanup{Reason: act.Cleanup}
	}
	if ref := run.Spec.CustomRef; ref != nil {
		req.Ref = ref.Name
	}
	if cs := run.Spec.CustomSpec; cs != nil {
		if len(cs.Spec.Raw) > 0 && string(cs.Spec.Raw) != "null" {
			req.Spec = cs.Spec.Raw
		}
		if len(cs.Metadata.Labels) > 0 || len(cs.Metadata.Annotations) > 0 {
			req.Metadata = &hostabi.Metadata{Labels: cs.Metadata.Labels, Annotations: cs.Metadata.Annotations}
		}
	}
	for _, p := range run.Spec.Params {
		req.Params = append(req.Params, hostabi.Param{Name: p.Name, Value: paramValue(p.Value)})
	}
	return req
}

// Snapshot copies the parts of run that Request reads (its identity,
// spec, start time and extraFields) and nothing else (not retriesStatus,
// managedFields or annotations): for a caller that builds the request on
// another goroutine while run goes on changing. Request(Snapshot(run),
// ...) is Request(run, ...). Its identity and spec are also all that a
// workspace.Source reads of a run.
func Snapshot(run *v1beta1.CustomRun) *v1beta1.CustomRun {
	snap := &v1beta1.CustomRun{Spec: *run.Spec.DeepCopy()}
	snap.Name, snap.Namespace, snap.UID, snap.Labels = run.Name, run.Namespace, run.UID, maps.Clone(run.Labels)
	snap.Status.StartTime = run.Status.StartTime.DeepCopy()
	run.Status.ExtraFields.DeepCopyInto(&snap.Status.ExtraFields)
	return snap
}

func paramValue(v v1beta1.ParamValue) hostabi.ParamValue {
	switch v.Type {
	case v1beta1.ParamTypeArray:
		return hostabi.ArrayValue(v.ArrayVal...)
	case v1beta1.ParamTypeObject:
		return hostabi.ObjectValue(v.ObjectVal)
	}
	return hostabi.StringValue(v.StringVal)
}

// Remaining is how long until t by the machine's clock (negative if past).
func (m *Machine) Remaining(t time.Time) time.Duration { return t.Sub(m.now()) }
