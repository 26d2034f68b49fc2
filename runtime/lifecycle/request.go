package lifecycle

import (
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
)

// Request builds the plugin request for the attempt act describes. Spec
// is customSpec.spec; a caller that resolves a named customRef replaces
// it, and a caller that mounts workspaces fills Workspaces.
func (m *Machine) Request(run *v1beta1.CustomRun, act Action) *hostabi.Request {
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
	}
	if run.Status.StartTime != nil {
		req.StartTime = run.Status.StartTime.Time
	}
	if !act.Deadline.IsZero() {
		d := act.Deadline
		req.Deadline = &d
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
