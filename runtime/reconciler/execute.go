package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tekton-wasm/tekton-wasm/runtime/metrics"
	"github.com/tekton-wasm/tekton-wasm/runtime/registry"
)

// invocation is what the goroutine of one invocation needs, copied for
// it: it shares nothing the run's reconcile changes (see runState).
type invocation struct {
	key     types.NamespacedName
	kind    registry.Kind      // the plugin's kind
	machine *lifecycle.Machine // builds the request; safe for concurrent use
	act     lifecycle.Action   // the Invoke
	run     *v1beta1.CustomRun // lifecycle.Snapshot of the run
	spec    json.RawMessage    // the resolved customRef spec, if any
	limit   int                // the plugin's concurrency limit
	logger  *zap.SugaredLogger
}

// start starts inv on its own goroutine, in a context derived from parent
// (the run's) that ends at the attempt's deadline, and returns its job.
// The goroutine sends its outcome on the job's channel, then asks for a
// reconcile of the run to record it.
func (r *Reconciler) start(parent context.Context, inv invocation) *job {
	var ctx context.Context
	var cancel context.CancelFunc
	if inv.act.Deadline.IsZero() {
		ctx, cancel = context.WithCancel(parent)
	} else {
		ctx, cancel = context.WithTimeout(parent, r.until(inv.act.Deadline))
	}
	done := make(chan lifecycle.Outcome, 1)
	go func() {
		defer cancel()
		done <- r.execute(ctx, inv)
		r.Enqueue(inv.key)
	}()
	return &job{cancel: cancel, done: done}
}

// execute runs one invocation: it waits for a concurrency slot, prepares
// the run's workspaces, leases the plugin version serving the kind now,
// builds the request and invokes the plugin. Workspaces are prepared only
// once the slot is granted and removed before it is given back, so a
// queued run holds no files. ctx ends at the attempt's deadline or when
// the job is cancelled; waiting for a slot and preparing workspaces count
// against the deadline. A workspace the run's owner must fix is a
// *lifecycle.Failure, which ends the run; any other error that kept the
// plugin from running (the plugin was removed or broke before the
// invocation could start, an API error while preparing workspaces, the
// engine shut down) has the attempt tried again after the work queue's
// backoff (see runState.interrupted).
func (r *Reconciler) execute(ctx context.Context, inv invocation) lifecycle.Outcome {
	release, err := r.Dispatcher.Acquire(ctx, inv.key.Namespace, inv.kind.Kind+"."+inv.kind.APIVersion, inv.limit)
	if err != nil {
		return lifecycle.Outcome{Err: err}
	}
	defer release()
	ws, err := r.Workspaces.Prepare(ctx, inv.run)
	if err != nil {
		return lifecycle.Outcome{Err: hostFailure(err)}
	}
	defer func() {
		if err := ws.Remove(); err != nil {
			inv.logger.Errorw("Removing the invocation's workspaces failed", zap.Error(err))
		}
	}()
	req := inv.machine.Request(inv.run, inv.act, lifecycle.Inputs{Spec: inv.spec, Workspaces: ws.Entries()})
	call := engine.Invocation{Mounts: ws.Mounts()}

	lease, err := r.Registry.Acquire(inv.kind.APIVersion, inv.kind.Kind)
	if err != nil {
		return lifecycle.Outcome{Err: err}
	}
	defer lease.Release()
	if call.HTTP, err = r.httpClient(lease.Entry); err != nil {
		return lifecycle.Outcome{Err: err}
	}
	if call.HTTP != nil {
		defer call.HTTP.CloseIdleConnections()
	}
	call.Kubernetes = r.kubernetesSession(lease.Entry, inv.run)
	if inv.logger.Desugar().Core().Enabled(zapcore.DebugLevel) {
		log := &lineLogger{logger: inv.logger.With(zap.String("sha256", lease.Entry.Digest()))}
		defer log.flush()
		call.Log = log
	}
	start := time.Now()
	resp, err := lease.Plugin.Invoke(ctx, req, call)
	r.Metrics.Invoked(r.Context, lease.Entry.Manifest.Name, time.Since(start), result(resp, err))
	return lifecycle.Outcome{Response: resp, Err: err}
}

func result(resp *hostabi.Response, err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return metrics.ResultTimedOut
	case err != nil:
		return metrics.ResultCancelled
	case resp.Status == hostabi.StatusSucceeded:
		return metrics.ResultSucceeded
	case resp.Status == hostabi.StatusRunning:
		return metrics.ResultRunning
	}
	return metrics.ResultFailed
}

// maxLogLine caps one line of plugin log in the controller's log.
const maxLogLine = 4 << 10

// lineLogger writes a plugin's stderr to the controller's log at debug
// level, one entry per line (lines longer than maxLogLine are split); it
// is used only when debug logging is on. The engine calls Write on the
// invocation's goroutine, so it needs no lock.
type lineLogger struct {
	logger *zap.SugaredLogger
	line   []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.line = append(l.line, p...)
			if len(l.line) >= maxLogLine {
				l.flush()
			}
			break
		}
		l.line = append(l.line, p[:i]...)
		l.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (l *lineLogger) flush() {
	for start := 0; start < len(l.line); start += maxLogLine {
		l.logger.Debugw("Plugin log", zap.String("line", string(l.line[start:min(start+maxLogLine, len(l.line))])))
	}
	l.line = l.line[:0]
}
