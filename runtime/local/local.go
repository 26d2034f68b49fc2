// Package local runs one CustomRun to its end in-process, with no cluster:
// the state machine (runtime/lifecycle) decides, the engine
// (runtime/engine) invokes, and the runner really waits between calls of
// a Running plugin. It is the core of `tkn-wasm run`, and shares every
// rule with the controller because both drive the same lifecycle.Machine
// and prepare workspaces through the same workspace.Source, per
// invocation: an emptyDir is fresh for each call, as in the cluster.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/workspace"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"knative.dev/pkg/apis"
)

// CancelMessage is spec.statusMessage of a run cancelled by interrupting
// the runner.
const CancelMessage = "CustomRun cancelled: tkn-wasm was interrupted"

// Cancellation is the cause (context.WithCancelCause) with which a caller
// cancels a run it drives when it needs the run's spec.statusMessage to
// say why: runtime/pipelinerun cancels the CustomRuns of a timed-out
// PipelineRun with v1beta1.CustomRunCancelledByPipelineTimeoutMsg, as
// Tekton's controller does. Any other end of the context cancels with
// CancelMessage.
type Cancellation struct{ Message string }

func (c *Cancellation) Error() string { return c.Message }

// Runner runs CustomRuns against one compiled plugin. Set the fields
// before Run; a Runner without Changed may run several runs at once.
type Runner struct {
	Machine *lifecycle.Machine
	Plugin  *engine.CompiledPlugin
	// Log receives the plugin's log (stderr), each line prefixed with
	// "[attempt N] " ("[attempt N clean-up] " in a clean-up call). Nil
	// discards it.
	Log io.Writer
	// Workspaces prepares the run's workspaces for each invocation:
	// tkn-wasm's is a workspace.Local with its --workspace bindings. Nil
	// means a workspace.Local without bindings.
	Workspaces workspace.Source
	// HTTP serves the plugin's HTTP capability; nil: none.
	HTTP *httpcap.Client
	// Kubernetes serves the plugin's Kubernetes capability under
	// KubernetesRules (its manifest's), as the client's own user (no
	// ServiceAccount is impersonated), in the run's namespace or, for a
	// run that names none, KubernetesNamespace; nil: none.
	Kubernetes          *kubecap.Client
	KubernetesRules     []kubecap.Rule
	KubernetesNamespace string
	// Slot, when set, is called before each invocation and returns once
	// the invocation may start, with the function that ends it, or ctx's
	// error (the invocation is then interrupted, as by ctx): a caller
	// running many runs at once passes its limit on concurrent
	// invocations here. A run waiting between calls holds no slot. nil:
	// invocations are not limited.
	Slot func(ctx context.Context) (release func(), err error)
	// Changed, when set, is called with the run each time its Succeeded
	// condition changes status or reason (started, running, retrying,
	// ended), on Run's goroutine. It must not keep or modify the run.
	Changed func(run *v1beta1.CustomRun)
}

// Run drives run to its end and leaves the final status in run.Status.
// When ctx ends, the run is cancelled the way a user cancels a CustomRun
// (spec.status: RunCancelled), so it ends CustomRunCancelled, after the
// attempt's clean-up call if one of its calls answered Running: ctx does
// not stop that call, its grace period does (Machine.CleanupGrace). A
// workspace the run's spec gets wrong (a *workspace.Error) ends the run,
// as in the controller. The error is for problems outside the run (an unbound
// configMap workspace, a temp dir that cannot be made or removed); the
// run's own failures are in its status. The loop turns once per call of
// the machine, which ends at most one attempt per call, so a run of many
// attempts that time out at once (a timeout shorter than an invocation's
// start) costs one short turn each, up to lifecycle.MaxRetries+1.
func (r *Runner) Run(ctx context.Context, run *v1beta1.CustomRun) error {
	m := r.Machine
	var last apis.Condition
	changed := func() {
		if c := run.Status.GetCondition(apis.ConditionSucceeded); r.Changed != nil && c != nil && (c.Status != last.Status || c.Reason != last.Reason) {
			last = *c
			r.Changed(run)
		}
	}
	defer changed()
	act := m.Step(run, lifecycle.Known{})
	for act.Kind != lifecycle.Done {
		changed()
		if ctx.Err() != nil && !run.IsCancelled() {
			run.Spec.Status = v1beta1.CustomRunSpecStatusCancelled
			run.Spec.StatusMessage = CancelMessage
			if c, ok := errors.AsType[*Cancellation](context.Cause(ctx)); ok {
				run.Spec.StatusMessage = v1beta1.CustomRunSpecStatusMessage(c.Message)
			}
			act = m.Step(run, lifecycle.Known{})
			continue
		}
		switch act.Kind {
		case lifecycle.Invoke, lifecycle.Cleanup:
			var err error
			if act, err = r.attempt(ctx, run, act); err != nil {
				return err
			}
		case lifecycle.Wait:
			wait := time.NewTimer(m.Remaining(act.At))
			select {
			case <-wait.C:
			case <-ctx.Done():
				wait.Stop()
			}
			act = m.Step(run, lifecycle.Known{Last: act})
		}
	}
	return nil
}

// attempt prepares the workspaces for the invocation act asks for,
// invokes the plugin, removes the workspaces and records the outcome. A
// workspace the run's spec gets wrong is the outcome: the invocation
// cannot run, and the run ends with it. A clean-up call is made whether
// ctx has ended or not (that is why it is made), within its deadline.
func (r *Runner) attempt(ctx context.Context, run *v1beta1.CustomRun, act lifecycle.Action) (lifecycle.Action, error) {
	if act.Kind == lifecycle.Cleanup {
		ctx = context.WithoutCancel(ctx)
	}
	src := r.Workspaces
	if src == nil {
		src = &workspace.Local{}
	}
	var out lifecycle.Outcome
	ws, err := src.Prepare(ctx, run)
	if werr, ok := errors.AsType[*workspace.Error](err); ok {
		out.Err = &lifecycle.Failure{Reason: werr.Reason, Message: werr.Message}
	} else if err != nil {
		return act, err
	} else {
		out = r.invoke(ctx, act, r.Machine.Request(run, act, lifecycle.Inputs{Workspaces: ws.Entries()}), ws.Mounts(), r.kubernetes(run))
		if err := ws.Remove(); err != nil {
			return act, fmt.Errorf("removing the invocation's workspaces: %w", err)
		}
	}
	return r.Machine.Step(run, lifecycle.Known{Last: act, Outcome: &out}), nil
}

func (r *Runner) invoke(ctx context.Context, act lifecycle.Action, req *hostabi.Request, mounts []engine.Mount, kube *kubecap.Session) lifecycle.Outcome {
	if !act.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, act.Deadline)
		defer cancel()
	}
	if r.Slot != nil {
		release, err := r.Slot(ctx)
		if err != nil {
			return lifecycle.Outcome{Err: err}
		}
		defer release()
	}
	log := io.Discard
	if r.Log != nil {
		prefix := fmt.Sprintf("[attempt %d] ", act.Attempt)
		if act.Kind == lifecycle.Cleanup {
			prefix = fmt.Sprintf("[attempt %d clean-up] ", act.Attempt)
		}
		lw := &prefixWriter{w: r.Log, prefix: prefix, bol: true}
		defer lw.finish()
		log = lw
	}
	resp, err := r.Plugin.Invoke(ctx, req, engine.Invocation{Log: log, Mounts: mounts, HTTP: r.HTTP, Kubernetes: kube})
	return lifecycle.Outcome{Response: resp, Err: err}
}

// kubernetes is the Kubernetes capability of one call of run; nil when
// the Runner serves none.
func (r *Runner) kubernetes(run *v1beta1.CustomRun) *kubecap.Session {
	if r.Kubernetes == nil {
		return nil
	}
	ns := run.Namespace
	if ns == "" {
		ns = r.KubernetesNamespace
	}
	return r.Kubernetes.Session(r.KubernetesRules, kubecap.Identity{Namespace: ns}, kubecap.Options{})
}

// prefixWriter writes each line of a plugin's log with a prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	bol    bool // at the beginning of a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if p.bol {
			if _, err := io.WriteString(p.w, p.prefix); err != nil {
				return 0, err
			}
			p.bol = false
		}
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i < len(b) {
			i++
			p.bol = true
		}
		if _, err := p.w.Write(b[:i]); err != nil {
			return 0, err
		}
		b = b[i:]
	}
	return n, nil
}

// finish ends an unterminated last line.
func (p *prefixWriter) finish() {
	if !p.bol {
		io.WriteString(p.w, "\n")
	}
}
