package reconciler

import (
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// statusWriter writes one run's status, coalescing writes: it knows the
// status stored (as the copy of the run being reconciled shows it) and the
// status the state machine produced when an invocation started, held back
// for a delay so that an invocation that ends within it is written
// together with its start (one write for a plugin that answers at once).
// It also knows the resourceVersion its last write replaced, to tell a
// stale informer copy from a fresh one. It belongs to the run's reconcile
// (see runState): one reconcile uses it at a time, so it has no lock.
//
// It is kept for every run the controller works on, waiting runs
// included, so between reconciles it holds only what the next one needs:
// the held status while there is one, and the resourceVersion its last
// write replaced (BenchmarkWaitingRuns measures it).
type statusWriter struct {
	// delay is how long a held status may go unwritten
	// (Reconciler.StatusDelay).
	delay time.Duration
	// stored is the status of the copy being reconciled; release drops
	// it when the reconcile ends.
	stored v1beta1.CustomRunStatus
	// held, when not nil, is the status produced when an invocation
	// started and not written yet.
	held *heldStatus
	// writtenOver is the resourceVersion the last write replaced. While
	// the informer still shows it, its copy predates the write.
	writtenOver string
}

// heldStatus is a status held back: produced from base, the stored
// status, when an invocation started, and due to be written at due.
type heldStatus struct {
	status, base v1beta1.CustomRunStatus
	due          time.Time
}

// writeFunc writes run's status over stored (it may replace run.Status
// with a status the apiserver accepts, see Reconciler.write).
type writeFunc func(run *v1beta1.CustomRun, stored *v1beta1.CustomRunStatus) error

// stale reports whether run is a copy from before the last write: the
// informer has not seen the write yet, and its event will bring the run
// back. A copy that is not stale forgets the write.
func (w *statusWriter) stale(run *v1beta1.CustomRun) bool {
	if run.ResourceVersion != "" && run.ResourceVersion == w.writtenOver {
		return true
	}
	w.writtenOver = ""
	return false
}

// read takes the status of run, the copy being reconciled, as the stored
// one, and puts the held status back onto run if run's status is still
// the one the held status was produced from.
func (w *statusWriter) read(run *v1beta1.CustomRun) {
	w.stored = *run.Status.DeepCopy()
	if w.held != nil && equality.Semantic.DeepEqual(&run.Status, &w.held.base) {
		run.Status = *w.held.status.DeepCopy()
	}
}

// hold keeps run's status, produced for an invocation starting at now,
// from being written until delay has passed, unless it is what is stored.
func (w *statusWriter) hold(run *v1beta1.CustomRun, now time.Time) {
	w.held = nil
	if !equality.Semantic.DeepEqual(&w.stored, &run.Status) {
		w.held = &heldStatus{status: *run.Status.DeepCopy(), base: *w.stored.DeepCopy(), due: now.Add(w.delay)}
	}
}

// wait returns how long the held status may still go unwritten at now:
// zero when nothing is held or it is due.
func (w *statusWriter) wait(now time.Time) time.Duration {
	if w.held == nil {
		return 0
	}
	return max(w.held.due.Sub(now), 0)
}

// flush writes run's status with write unless it is the stored one. Once
// written, nothing is held and the run's copies at the resourceVersion
// it replaced are stale. A failed write keeps what is held.
func (w *statusWriter) flush(run *v1beta1.CustomRun, write writeFunc) error {
	if equality.Semantic.DeepEqual(&w.stored, &run.Status) {
		return nil
	}
	over := run.ResourceVersion
	if err := write(run, &w.stored); err != nil {
		return err
	}
	w.stored, w.held, w.writtenOver = *run.Status.DeepCopy(), nil, over
	return nil
}

// release drops the stored status at the end of a reconcile: the next
// one reads it again (read) before it is used.
func (w *statusWriter) release() { w.stored = v1beta1.CustomRunStatus{} }
