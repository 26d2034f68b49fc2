package reconciler

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeStore is the apiserver for a statusWriter: it keeps the written
// status and gives each write a new resourceVersion.
type fakeStore struct {
	run    v1beta1.CustomRun
	writes int
	fail   error
}

func (s *fakeStore) write(run *v1beta1.CustomRun, _ *v1beta1.CustomRunStatus) error {
	if s.fail != nil {
		return s.fail
	}
	s.writes++
	s.run = *run.DeepCopy()
	s.run.ResourceVersion = strconv.Itoa(s.writes + 1)
	return nil
}

// copy is the run as the informer shows it after the writes so far.
func (s *fakeStore) copy() *v1beta1.CustomRun { return s.run.DeepCopy() }

func newStore() *fakeStore {
	return &fakeStore{run: v1beta1.CustomRun{ObjectMeta: metav1.ObjectMeta{Name: "r", ResourceVersion: "1"}}}
}

func started(run *v1beta1.CustomRun, at time.Time) {
	run.Status.StartTime = &metav1.Time{Time: at}
}

func TestStatusWriterHold(t *testing.T) {
	s, w := newStore(), &statusWriter{delay: statusDelay}
	run := s.copy()
	w.read(run)
	started(run, now)
	w.hold(run, now)
	if d := w.wait(now); d != statusDelay {
		t.Errorf("wait %s after hold, want %s", d, statusDelay)
	}
	if d := w.wait(now.Add(time.Second)); d != statusDelay-time.Second {
		t.Errorf("wait %s a second after hold, want %s", d, statusDelay-time.Second)
	}
	if d := w.wait(now.Add(time.Hour)); d != 0 {
		t.Errorf("wait %s past the delay, want 0", d)
	}
	// The next reconcile's copy does not show the held status; read puts
	// it back.
	run = s.copy()
	w.read(run)
	if run.Status.StartTime == nil {
		t.Fatal("read did not put the held status back")
	}
	if s.writes != 0 {
		t.Errorf("%d writes while the status is held", s.writes)
	}
	// A copy whose status someone else changed keeps its own.
	other := s.copy()
	other.Status.ExtraFields.Raw = []byte(`{"theirs":1}`)
	w.read(other)
	if other.Status.StartTime != nil {
		t.Error("read put the held status over a status it was not produced from")
	}
	// Holding what is stored holds nothing.
	w2 := &statusWriter{delay: statusDelay}
	w2.read(s.copy())
	w2.hold(s.copy(), now)
	if w2.held != nil || w2.wait(now) != 0 {
		t.Error("a status equal to the stored one is held")
	}
}

func TestStatusWriterFlush(t *testing.T) {
	s, w := newStore(), &statusWriter{delay: statusDelay}
	run := s.copy()
	w.read(run)
	if err := w.flush(run, s.write); err != nil || s.writes != 0 {
		t.Fatalf("flush of the stored status: %d writes, %v", s.writes, err)
	}
	started(run, now)
	w.hold(run, now)
	// The invocation ended: its outcome is written with its start, once.
	run.Status.CompletionTime = &metav1.Time{Time: now}
	if err := w.flush(run, s.write); err != nil {
		t.Fatal(err)
	}
	if s.writes != 1 || s.run.Status.StartTime == nil || s.run.Status.CompletionTime == nil {
		t.Fatalf("%d writes, stored %+v; want one write of start and completion", s.writes, s.run.Status)
	}
	if w.wait(now) != 0 || w.held != nil {
		t.Error("a status is still held after the flush")
	}
	if err := w.flush(run, s.write); err != nil || s.writes != 1 {
		t.Errorf("flush of what was written: %d writes, %v", s.writes, err)
	}

	// A failed write keeps what is held, for the next reconcile.
	s2, w2 := newStore(), &statusWriter{delay: statusDelay}
	run = s2.copy()
	w2.read(run)
	started(run, now)
	w2.hold(run, now)
	s2.fail = errors.New("conflict")
	if err := w2.flush(run, s2.write); err == nil {
		t.Fatal("the write's error is lost")
	}
	run = s2.copy()
	if w2.stale(run) {
		t.Error("a copy is stale after a failed write")
	}
	w2.read(run)
	if run.Status.StartTime == nil {
		t.Error("a failed write dropped the held status")
	}
}

func TestStatusWriterStale(t *testing.T) {
	s, w := newStore(), &statusWriter{delay: statusDelay}
	run := s.copy()
	old := s.copy()
	w.read(run)
	started(run, now)
	if err := w.flush(run, s.write); err != nil {
		t.Fatal(err)
	}
	// The informer still shows the copy the write replaced.
	if !w.stale(old) {
		t.Error("the copy the write replaced is not stale")
	}
	if !w.stale(old) {
		t.Error("the copy the write replaced is not stale the second time")
	}
	// The informer has seen the write: the old resourceVersion is
	// forgotten.
	if w.stale(s.copy()) {
		t.Error("the written copy is stale")
	}
	if w.stale(old) {
		t.Error("a copy is stale after a fresh one was seen")
	}
	// A copy without a resourceVersion is never stale.
	w.writtenOver = ""
	if w.stale(&v1beta1.CustomRun{}) {
		t.Error("a copy without a resourceVersion is stale")
	}
}
