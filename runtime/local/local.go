// Package local runs one CustomRun to its end in-process, with no cluster:
// the state machine (runtime/lifecycle) decides, the engine
// (runtime/engine) invokes, and the runner really waits between calls of
// a Running plugin. It is the core of `tkn-wasm run`, and shares every
// rule with the controller because both drive the same lifecycle.Machine.
package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
)

// CancelMessage is spec.statusMessage of a run cancelled by interrupting
// the runner.
const CancelMessage = "CustomRun cancelled: tkn-wasm was interrupted"

// Runner runs CustomRuns against one compiled plugin.
type Runner struct {
	Machine *lifecycle.Machine
	Plugin  *engine.CompiledPlugin
	// Log receives the plugin's log (stderr), each line prefixed with
	// "[attempt N] ". Nil discards it.
	Log io.Writer
	// Bindings maps workspace names to host directories. A configMap or
	// secret workspace must be bound (there is no cluster to read it
	// from); an unbound emptyDir gets a fresh temporary directory that is
	// removed when the run ends.
	Bindings map[string]string
}

// Run drives run to its end and leaves the final status in run.Status.
// When ctx ends, the run is cancelled the way a user cancels a CustomRun
// (spec.status: RunCancelled), so it ends CustomRunCancelled. The error is
// for problems outside the run (an unbound workspace, a temp dir that
// cannot be made); the run's own failures are in its status. The loop
// turns once per call of the machine, which ends at most one attempt per
// call, so a run of many attempts that time out at once (a timeout
// shorter than an invocation's start) costs one short turn each, up to
// lifecycle.MaxRetries+1.
func (r *Runner) Run(ctx context.Context, run *v1beta1.CustomRun) error {
	mounts, workspaces, cleanup, err := r.mount(run)
	if err != nil {
		return err
	}
	defer cleanup()

	m := r.Machine
	act := m.Step(run, lifecycle.Known{})
	for act.Kind != lifecycle.Done {
		if ctx.Err() != nil && !run.IsCancelled() {
			run.Spec.Status = v1beta1.CustomRunSpecStatusCancelled
			run.Spec.StatusMessage = CancelMessage
			act = m.Step(run, lifecycle.Known{})
			continue
		}
		switch act.Kind {
		case lifecycle.Invoke:
			out := r.invoke(ctx, act, m.Request(run, act, lifecycle.Inputs{Workspaces: workspaces}), mounts)
			act = m.Step(run, lifecycle.Known{Last: act, Outcome: &out})
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

func (r *Runner) invoke(ctx context.Context, act lifecycle.Action, req *hostabi.Request, mounts []engine.Mount) lifecycle.Outcome {
	if !act.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, act.Deadline)
		defer cancel()
	}
	log := io.Discard
	if r.Log != nil {
		lw := &prefixWriter{w: r.Log, prefix: fmt.Sprintf("[attempt %d] ", act.Attempt), bol: true}
		defer lw.finish()
		log = lw
	}
	resp, err := r.Plugin.Invoke(ctx, req, engine.Invocation{Log: log, Mounts: mounts})
	return lifecycle.Outcome{Response: resp, Err: err}
}

// mount resolves the run's workspaces to host directories.
func (r *Runner) mount(run *v1beta1.CustomRun) ([]engine.Mount, []hostabi.Workspace, func(), error) {
	var (
		mounts     []engine.Mount
		workspaces []hostabi.Workspace
		temps      []string
	)
	cleanup := func() {
		for _, d := range temps {
			os.RemoveAll(d)
		}
	}
	seen := map[string]bool{}
	for _, ws := range run.Spec.Workspaces {
		if !hostabi.ValidWorkspaceName(ws.Name) || seen[ws.Name] {
			cleanup()
			return nil, nil, nil, fmt.Errorf(`workspace name %q is a duplicate or not 1 to %d letters, digits, '-', '_' or '.' (and not "." or ".."); rename the workspace`, ws.Name, hostabi.MaxWorkspaceName)
		}
		seen[ws.Name] = true
		kind := lifecycle.WorkspaceType(ws)
		dir, bound := r.Bindings[ws.Name]
		switch {
		case bound:
		case kind == "emptyDir":
			d, err := os.MkdirTemp("", "tkn-wasm-"+ws.Name+"-")
			if err != nil {
				cleanup()
				return nil, nil, nil, fmt.Errorf("workspace %q: %w", ws.Name, err)
			}
			temps = append(temps, d)
			dir = d
		case kind == "configMap" || kind == "secret":
			cleanup()
			return nil, nil, nil, fmt.Errorf("workspace %q is a %s and there is no cluster to read it from; bind it to a local directory with --workspace %s=DIR", ws.Name, kind, ws.Name)
		default:
			continue // lifecycle ends the run CustomRunWorkspaceNotSupported
		}
		readOnly := kind == "configMap" || kind == "secret"
		guest := hostabi.WorkspacePath(ws.Name)
		mounts = append(mounts, engine.Mount{HostDir: dir, GuestPath: guest, ReadOnly: readOnly})
		workspaces = append(workspaces, hostabi.Workspace{Name: ws.Name, Path: guest, ReadOnly: readOnly})
	}
	return mounts, workspaces, cleanup, nil
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
