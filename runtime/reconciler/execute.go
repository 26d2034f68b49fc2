package reconciler

import (
	"bytes"
	"context"
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
)

// invocation is what the goroutine of a job needs to run it.
type invocation struct {
	key    types.NamespacedName
	run    *v1beta1.CustomRun // a copy, for its workspaces
	req    *hostabi.Request
	limit  int // the plugin's concurrency limit
	logger *zap.SugaredLogger
}

// execute runs one invocation on its own goroutine: it waits for a
// concurrency slot, prepares the run's workspaces, leases the plugin
// version serving the kind now, invokes it, and publishes the outcome.
// Workspaces are prepared only once the slot is granted and removed
// before it is given back, so a queued run holds no files. ctx ends at
// the attempt's deadline or when the job is cancelled; waiting for a slot
// and preparing workspaces count against the deadline. An outcome whose
// error is neither a deadline nor a cancellation is handled by
// ReconcileKind: a *workspace.Error ends the run, any other (the plugin
// was removed or broke before the invocation could start, an API error
// while preparing workspaces, the engine shut down) has the attempt tried
// again after the work queue's backoff.
func (r *Reconciler) execute(ctx context.Context, j *job, inv invocation) {
	defer func() {
		j.cancel()
		close(j.done)
		r.Enqueue(inv.key)
	}()
	group := inv.req.Kind + "." + inv.req.APIVersion
	release, err := r.Dispatcher.Acquire(ctx, inv.key.Namespace, group, inv.limit)
	if err != nil {
		j.outcome = lifecycle.Outcome{Err: err}
		return
	}
	defer release()
	ws, err := r.Workspaces.Prepare(ctx, inv.run)
	if err != nil {
		j.outcome = lifecycle.Outcome{Err: err}
		return
	}
	defer func() {
		if err := ws.Remove(); err != nil {
			inv.logger.Errorw("Removing the invocation's workspaces failed", zap.Error(err))
		}
	}()
	lease, err := r.Registry.Acquire(inv.req.APIVersion, inv.req.Kind)
	if err != nil {
		j.outcome = lifecycle.Outcome{Err: err}
		return
	}
	defer lease.Release()

	inv.req.Workspaces = ws.Entries()
	call := engine.Invocation{Mounts: ws.Mounts()}
	if call.HTTP, err = r.httpClient(lease.Entry); err != nil {
		j.outcome = lifecycle.Outcome{Err: err}
		return
	}
	if call.HTTP != nil {
		defer call.HTTP.CloseIdleConnections()
	}
	if inv.logger.Desugar().Core().Enabled(zapcore.DebugLevel) {
		log := &lineLogger{logger: inv.logger.With(zap.String("sha256", lease.Entry.Digest()))}
		defer log.flush()
		call.Log = log
	}
	start := time.Now()
	resp, err := lease.Plugin.Invoke(ctx, inv.req, call)
	r.Metrics.Invoked(r.Context, lease.Entry.Manifest.Name, time.Since(start), result(resp, err))
	j.outcome = lifecycle.Outcome{Response: resp, Err: err}
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
