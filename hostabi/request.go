package hostabi

import (
	"encoding/json"
	"time"
)

// Request is the document the host writes to a plugin's stdin, once, at the
// start of every invocation. Stdin is closed after it.
type Request struct {
	// ABIVersion is Version.
	ABIVersion string `json:"abiVersion"`

	// Run identifies the CustomRun being executed.
	Run RunIdentity `json:"run"`

	// APIVersion and Kind are the custom task the run asks for, from its
	// customRef or customSpec; they select this plugin.
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`

	// Ref is the name of the object named by customRef, empty when the run
	// uses an unnamed customRef or a customSpec.
	Ref string `json:"ref,omitempty"`

	// Spec is the resolved task spec as JSON: customSpec.spec, or the spec
	// of the object a named customRef points to. It is absent (null) for
	// an unnamed customRef or an empty customSpec.spec: the plugin then
	// applies its default behaviour.
	Spec json.RawMessage `json:"spec,omitempty"`

	// Metadata is customSpec.metadata (labels and annotations), if any.
	Metadata *Metadata `json:"metadata,omitempty"`

	// Params are the run's params, typed as in Tekton.
	Params []Param `json:"params,omitempty"`

	// Attempt is the 1-based number of the current attempt; it is
	// Retries+1 on the last one.
	Attempt int `json:"attempt"`
	// Retries is spec.retries: how many times a failed attempt is retried.
	Retries int `json:"retries"`

	// StartTime is when the current attempt started. Every call of a
	// Running attempt gets the same StartTime.
	StartTime time.Time `json:"startTime"`
	// Deadline is when the host stops the current attempt (StartTime plus
	// the run's timeout); absent when the run has no timeout.
	Deadline *time.Time `json:"deadline,omitempty"`

	// ExtraFields is what the plugin returned in its last Running response
	// of this attempt; absent on the first call of an attempt.
	ExtraFields json.RawMessage `json:"extraFields,omitempty"`

	// Workspaces are the run's workspaces the host mounted into the
	// sandbox's filesystem.
	Workspaces []Workspace `json:"workspaces,omitempty"`

	// Cleanup, when set, marks a clean-up call: the run was cancelled or
	// the attempt timed out after a call of this attempt answered Running,
	// and this is the attempt's last call, made so the plugin can undo
	// what it started outside (cancel a build, delete a child object).
	// ExtraFields is what the last Running response returned, Deadline
	// ends the grace period (the manifest's limits.cleanup), and the
	// response cannot change the outcome: the host only waits for it.
	// Absent on every other call.
	Cleanup *Cleanup `json:"cleanup,omitempty"`
}

// Cleanup says why the host makes a clean-up call.
type Cleanup struct {
	// Reason is CleanupCancelled or CleanupTimedOut.
	Reason CleanupReason `json:"reason"`
}

// CleanupReason is why a clean-up call is made.
type CleanupReason string

const (
	// CleanupCancelled: the run was cancelled (spec.status RunCancelled);
	// it ends CustomRunCancelled.
	CleanupCancelled CleanupReason = "Cancelled"
	// CleanupTimedOut: the attempt reached its deadline; it ends
	// CustomRunTimedOut, and the next attempt, if retries are left,
	// starts after the clean-up call.
	CleanupTimedOut CleanupReason = "TimedOut"
)

// RunIdentity names the CustomRun.
type RunIdentity struct {
	Name               string            `json:"name"`
	Namespace          string            `json:"namespace,omitempty"`
	UID                string            `json:"uid,omitempty"`
	Labels             map[string]string `json:"labels,omitempty"`
	ServiceAccountName string            `json:"serviceAccountName,omitempty"`
}

// Metadata is the metadata of an embedded customSpec.
type Metadata struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// WorkspaceRoot is the sandbox directory under which workspaces are
// mounted: workspace "src" is at /workspace/src.
const WorkspaceRoot = "/workspace"

// WorkspacePath is where the workspace of the given name is mounted.
func WorkspacePath(name string) string { return WorkspaceRoot + "/" + name }

// MaxWorkspaceName is the longest workspace name, in bytes.
const MaxWorkspaceName = 63

// ValidWorkspaceName reports whether name can name a workspace: 1 to
// MaxWorkspaceName letters, digits, '-', '_' or '.', and neither "." nor
// "..", so that WorkspacePath(name) is one directory below WorkspaceRoot.
func ValidWorkspaceName(name string) bool {
	if len(name) == 0 || len(name) > MaxWorkspaceName || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// Workspace is a directory mounted into the plugin's filesystem.
type Workspace struct {
	// Name is the workspace's name in the CustomRun.
	Name string `json:"name"`
	// Path is where it is mounted in the sandbox: /workspace/<name>.
	Path string `json:"path"`
	// ReadOnly is true for configMap and secret workspaces.
	ReadOnly bool `json:"readOnly,omitempty"`
}

// Param returns the param with the given name, or nil.
func (r *Request) Param(name string) *Param {
	for i := range r.Params {
		if r.Params[i].Name == name {
			return &r.Params[i]
		}
	}
	return nil
}
