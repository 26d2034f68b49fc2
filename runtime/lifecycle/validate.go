package lifecycle

import (
	"fmt"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
)

// Target returns the apiVersion and kind a run asks for, from its
// customRef or customSpec, without validating the run. It is how a caller
// picks the plugin (and decides whether a run is its own at all).
func Target(run *v1beta1.CustomRun) (apiVersion, kind string) {
	switch {
	case run.Spec.CustomRef != nil:
		return run.Spec.CustomRef.APIVersion, string(run.Spec.CustomRef.Kind)
	case run.Spec.CustomSpec != nil:
		return run.Spec.CustomSpec.APIVersion, run.Spec.CustomSpec.Kind
	}
	return "", ""
}

// validate checks the parts of the CustomRun contract Tekton's webhook
// would check, at reconcile time. It returns the reason and message that
// end an invalid run, or "".
func validate(run *v1beta1.CustomRun) (reason, msg string) {
	ref, spec := run.Spec.CustomRef, run.Spec.CustomSpec
	switch {
	case ref != nil && spec != nil:
		return ReasonValidationFailed, "spec.customRef and spec.customSpec are both set; use exactly one"
	case ref == nil && spec == nil:
		return ReasonValidationFailed, "neither spec.customRef nor spec.customSpec is set; use exactly one"
	}
	field := "spec.customRef"
	if spec != nil {
		field = "spec.customSpec"
	}
	apiVersion, kind := Target(run)
	switch {
	case apiVersion == "" && kind == "":
		return ReasonValidationFailed, field + ".apiVersion and " + field + ".kind are empty; name the custom task's apiVersion and kind"
	case apiVersion == "":
		return ReasonValidationFailed, field + ".apiVersion is empty; name the custom task's apiVersion"
	case kind == "":
		return ReasonValidationFailed, field + ".kind is empty; name the custom task's kind"
	}
	switch r := run.Spec.Retries; {
	case r < 0:
		return ReasonValidationFailed, fmt.Sprintf("spec.retries %d is negative; use 0 for no retries", r)
	case r > MaxRetries:
		return ReasonValidationFailed, fmt.Sprintf("spec.retries %d is more than %d, the most a CustomRun can record: "+
			"each failed attempt adds at least %d bytes to status.retriesStatus and the apiserver stores objects of at most %d bytes; "+
			"ask for at most %d retries", r, MaxRetries, MinRetryStatusBytes, MaxObjectBytes, MaxRetries)
	}
	return "", ""
}
