package lifecycle

import (
	"encoding/json"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
)

// setSucceeded sets the Succeeded condition. Unlike knative's condition
// manager it stamps lastTransitionTime from the machine's clock, and keeps
// the old stamp when nothing but the stamp would change.
func (m *Machine) setSucceeded(st *v1beta1.CustomRunStatus, status corev1.ConditionStatus, reason, msg string) {
	cond := apis.Condition{
		Type:               apis.ConditionSucceeded,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		LastTransitionTime: apis.VolatileTime{Inner: metav1.NewTime(m.now())},
	}
	if old := st.GetCondition(apis.ConditionSucceeded); old != nil {
		if old.Status == cond.Status && old.Reason == cond.Reason && old.Message == cond.Message {
			return
		}
	}
	conds := st.Conditions[:0:0]
	for _, c := range st.Conditions {
		if c.Type != apis.ConditionSucceeded {
			conds = append(conds, c)
		}
	}
	st.Conditions = append(conds, cond)
}

// finish ends a run (or an archived attempt) with a final condition.
func (m *Machine) finish(st *v1beta1.CustomRunStatus, status corev1.ConditionStatus, reason, msg string) {
	m.setSucceeded(st, status, reason, msg)
	st.CompletionTime = &metav1.Time{Time: m.now()}
}

func results(rs []hostabi.Result) []v1beta1.CustomRunResult {
	if len(rs) == 0 {
		return nil
	}
	out := make([]v1beta1.CustomRunResult, len(rs))
	for i, r := range rs {
		out[i] = v1beta1.CustomRunResult{Name: r.Name, Value: r.Value}
	}
	return out
}

func raw(b json.RawMessage) runtime.RawExtension {
	if len(b) == 0 || string(b) == "null" {
		return runtime.RawExtension{}
	}
	return runtime.RawExtension{Raw: b}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
