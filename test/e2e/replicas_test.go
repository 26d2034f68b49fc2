//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/hash"
	"knative.dev/pkg/leaderelection"
)

// The failover test's shape.
const (
	// failoverReplicas is how many replicas of the controller it runs.
	failoverReplicas = 3
	// failoverRuns is how many CustomRuns it creates; one replica is
	// SIGKILLed once half of them have been sent.
	failoverRuns = 300
	// failoverSlack is how much longer than a lease duration and a retry
	// period the survivors may take to hold a killed replica's buckets:
	// client-go's retry jitter and a machine busy with 300 runs.
	failoverSlack = 5 * time.Second
	// controllerComponent is the controller's knative component name
	// (cmd/controller), the prefix of its Lease names.
	controllerComponent = "tekton-wasm-controller"
)

// failoverCase is one kind of run in the burst and the outcome it must
// end with, whichever replica runs it and whenever the kill falls.
type failoverCase struct {
	prefix   string
	duration string        // the Wait plugin's duration param ("": none)
	timeout  time.Duration // spec.timeout (0: not set)
	retries  int
	status   corev1.ConditionStatus
	// reason ends the run, and every retried attempt before it.
	reason string
}

var failoverCases = []failoverCase{
	// Ends in its first call.
	{prefix: "instant", duration: "0s", status: corev1.ConditionTrue, reason: "DurationElapsed"},
	// Running, then called again after requeueAfter: spans the kill.
	{prefix: "wait", duration: "2s", status: corev1.ConditionTrue, reason: "DurationElapsed"},
	// The plugin fails every attempt: two retries, then the same reason.
	{prefix: "invalid", duration: "soon", retries: 2, status: corev1.ConditionFalse, reason: "InvalidDuration"},
	{prefix: "missing", retries: 1, status: corev1.ConditionFalse, reason: "MissingDuration"},
	// Each attempt waits until the host's timeout ends it.
	{prefix: "timeout", duration: "1h", timeout: 2 * time.Second, retries: 1, status: corev1.ConditionFalse, reason: "CustomRunTimedOut"},
}

func (c failoverCase) run(i int) *v1beta1.CustomRun {
	cr := waitRun(fmt.Sprintf("%s-%03d", c.prefix, i), c.duration)
	if c.duration == "" {
		cr.Spec.Params = nil
	}
	if c.timeout > 0 {
		cr.Spec.Timeout = &metav1.Duration{Duration: c.timeout}
	}
	cr.Spec.Retries = c.retries
	return cr
}

// TestReplicasFailover runs the controller as several replicas with
// knative's bucketed leader election (hack/cluster.sh replicas), creates a
// burst of Wait runs with known outcomes, and SIGKILLs the replica leading
// the most buckets once half of them are sent. Then:
//
//   - the survivors hold every bucket of the killed replica within a lease
//     duration, a retry period and failoverSlack of the kill;
//   - every run ends, none stuck, with its case's condition and exactly
//     its retries in retriesStatus, each with the case's reason: an attempt
//     the kill interrupted runs again, it is not counted as failed;
//   - "exactly once", as the API shows it: a watch on the runs sees each
//     one's status turn final once and never change afterwards (no second
//     replica records a second ending), the status holds that one
//     condition, and each run has at most one Event with its final reason;
//     exactly one, unless the killed replica wrote its ending before it
//     died (its queued Events die with it: Events are best effort).
//
// Plugin calls themselves are at least once (docs/controller.md): the
// attempt the kill interrupted is called again, which the API cannot show.
//
// It runs alone (not in parallel), restores one replica at its end, and
// needs the rig: on another cluster it fails, unless E2E_SKIP_REPLICAS is
// set.
func TestReplicasFailover(t *testing.T) {
	if os.Getenv("E2E_SKIP_REPLICAS") != "" {
		t.Skip("E2E_SKIP_REPLICAS is set")
	}
	if !isRigController(t) {
		t.Fatalf("the cluster at %s is not a hack/cluster.sh rig running tekton-wasm's controller; "+
			"this test starts and kills replicas of it (set E2E_SKIP_REPLICAS=1 to skip it)", kubeconfigPath)
	}
	ns := newNamespace(t)
	ctx := context.Background()
	t0 := time.Now()

	rig(t, "replicas", strconv.Itoa(failoverReplicas))
	t.Cleanup(func() { rig(t, "replicas", "1") })
	lecm, err := kube.CoreV1().ConfigMaps(controllerNamespace).Get(ctx, "config-leader-election", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	le, err := leaderelection.NewConfigFromConfigMap(lecm)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d replicas, %d buckets, lease %s, renew %s, retry %s (up in %s)", failoverReplicas,
		le.Buckets, le.LeaseDuration, le.RenewDeadline, le.RetryPeriod, time.Since(t0).Round(time.Millisecond))

	replicaOf := map[string]int{} // leader-election identity → replica
	for i := range failoverReplicas {
		var id string
		eventually(t, 30*time.Second, fmt.Sprintf("replica %d's leader-election identity", i), func(context.Context) (bool, error) {
			out, stderr, err := runRig("leader-id", strconv.Itoa(i))
			if err != nil {
				err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr))
			}
			id = strings.TrimSpace(out)
			return err == nil && id != "", err
		})
		replicaOf[id] = i
	}
	var holders map[string]string // lease → holder
	eventually(t, 30*time.Second, fmt.Sprintf("the replicas to hold all %d buckets", le.Buckets), func(ctx context.Context) (bool, error) {
		holders, err = bucketHolders(ctx, le.Buckets)
		if err != nil {
			return false, err
		}
		for _, h := range holders {
			if _, ok := replicaOf[h]; !ok {
				return false, nil
			}
		}
		return len(holders) == int(le.Buckets), nil
	})
	victim, victimID, victimBuckets := mostBuckets(holders, replicaOf)
	t.Logf("bucket holders: %v; killing replica %d (%s), which holds %v", holders, victim, victimID, sets.List(victimBuckets))
	buckets := hash.NewBucketSet(sets.KeySet(holders))

	hist := watchRuns(t, ns)

	// The burst: workers create the runs; once half are sent, the victim
	// is killed while the rest keep coming.
	runs := make([]*v1beta1.CustomRun, failoverRuns)
	cases := map[string]failoverCase{}
	for i := range runs {
		c := failoverCases[i%len(failoverCases)]
		runs[i] = c.run(i)
		cases[runs[i].Name] = c
	}
	todo := make(chan *v1beta1.CustomRun)
	half := make(chan struct{})
	var sent atomic.Int32
	var wg sync.WaitGroup
	createErrs := make(chan error, failoverRuns)
	burst := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cr := range todo {
				if _, err := tekton.TektonV1beta1().CustomRuns(ns).Create(ctx, cr, metav1.CreateOptions{}); err != nil {
					createErrs <- fmt.Errorf("creating CustomRun %s: %w", cr.Name, err)
				}
				if sent.Add(1) == failoverRuns/2 {
					close(half)
				}
			}
		}()
	}
	go func() {
		for _, cr := range runs {
			todo <- cr
		}
		close(todo)
	}()
	<-half
	rig(t, "kill-controller", strconv.Itoa(victim))
	killedAt := time.Now() // the victim is gone: stop waits for its pid to vanish
	t.Logf("replica %d SIGKILLed %s into the burst, %d runs sent", victim, killedAt.Sub(burst).Round(time.Millisecond), sent.Load())

	eventually(t, 3*le.LeaseDuration+30*time.Second, "the survivors to hold the killed replica's buckets", func(ctx context.Context) (bool, error) {
		holders, err = bucketHolders(ctx, le.Buckets)
		if err != nil {
			return false, err
		}
		for b := range victimBuckets {
			if r, ok := replicaOf[holders[b]]; !ok || r == victim {
				return false, nil
			}
		}
		return true, nil
	})
	takeover := time.Since(killedAt)
	t.Logf("survivors hold the killed replica's buckets %s after the kill: %v", takeover.Round(time.Millisecond), holders)
	if bound := le.LeaseDuration + le.RetryPeriod + failoverSlack; takeover > bound {
		t.Errorf("the survivors took %s to hold the killed replica's buckets, more than lease %s + retry %s + %s",
			takeover.Round(time.Millisecond), le.LeaseDuration, le.RetryPeriod, failoverSlack)
	}

	wg.Wait()
	close(createErrs)
	for err := range createErrs {
		t.Fatal(err)
	}

	// None stuck: every run ends.
	var ended []v1beta1.CustomRun
	eventually(t, 2*time.Minute, "every run to end", func(ctx context.Context) (bool, error) {
		list, err := tekton.TektonV1beta1().CustomRuns(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		var running []string
		for _, cr := range list.Items {
			if c := cr.Status.GetCondition(apis.ConditionSucceeded); c == nil || c.IsUnknown() {
				running = append(running, cr.Name)
			}
		}
		if len(list.Items) != failoverRuns || len(running) > 0 {
			return false, fmt.Errorf("%d of %d runs exist, not ended: %v", len(list.Items), failoverRuns, running)
		}
		ended = list.Items
		return true, nil
	})
	t.Logf("all %d runs ended %s after the burst began", failoverRuns, time.Since(burst).Round(time.Millisecond))

	// Each with its case's outcome and retries.
	for i := range ended {
		cr := &ended[i]
		c := cases[cr.Name]
		if len(cr.Status.Conditions) != 1 {
			t.Errorf("CustomRun %s has conditions %+v, want only Succeeded", cr.Name, cr.Status.Conditions)
		}
		if cond := cr.Status.GetCondition(apis.ConditionSucceeded); cond.Status != c.status || cond.Reason != c.reason {
			t.Errorf("CustomRun %s ended %s %s (%s), want %s %s", cr.Name, cond.Status, cond.Reason, cond.Message, c.status, c.reason)
		}
		if n := len(cr.Status.RetriesStatus); n != c.retries {
			t.Errorf("CustomRun %s has %d entries in retriesStatus, want %d", cr.Name, n, c.retries)
		}
		for j, rs := range cr.Status.RetriesStatus {
			if cond := rs.GetCondition(apis.ConditionSucceeded); cond == nil || cond.Reason != c.reason || !cond.IsFalse() {
				t.Errorf("CustomRun %s: retriesStatus[%d] ended %+v, want False %s", cr.Name, j, cond, c.reason)
			}
		}
		if cr.Status.CompletionTime == nil {
			t.Errorf("CustomRun %s ended without a completionTime", cr.Name)
		}
	}

	// Exactly once, as the watch saw it.
	hist.check(t, ended)

	// One terminal Event per run; none is missing unless the killed
	// replica wrote the run's ending.
	mayLack := map[types.UID]bool{}
	for i := range ended {
		cr := &ended[i]
		mayLack[cr.UID] = victimBuckets.Has(buckets.Owner(ns+"/"+cr.Name)) && cr.Status.CompletionTime.Time.Before(killedAt)
	}
	var lacking []string
	eventually(t, 2*time.Minute, "one Event with its final reason per run", func(ctx context.Context) (bool, error) {
		counts, err := terminalEvents(ctx, ns, ended)
		if err != nil {
			return false, err
		}
		lacking = lacking[:0]
		var missing, extra []string
		for i := range ended {
			cr := &ended[i]
			switch n := counts[cr.UID]; {
			case n > 1:
				extra = append(extra, fmt.Sprintf("%s (%d)", cr.Name, n))
			case n == 0 && mayLack[cr.UID]:
				lacking = append(lacking, cr.Name)
			case n == 0:
				missing = append(missing, cr.Name)
			}
		}
		if len(extra) > 0 {
			t.Fatalf("runs with more than one Event with their final reason: %v", extra)
		}
		if len(missing) > 0 {
			return false, fmt.Errorf("%d runs that survivors ended have no Event with their final reason: %v", len(missing), missing)
		}
		return true, nil
	})
	if len(lacking) > 0 {
		t.Logf("%d runs the killed replica ended just before it died have no final Event (lost with it): %v", len(lacking), lacking)
	}
	t.Logf("test took %s", time.Since(t0).Round(time.Millisecond))
}

// bucketHolders returns the holder of each of the controller's bucket
// Leases for the given bucket count ("" when released).
func bucketHolders(ctx context.Context, buckets uint32) (map[string]string, error) {
	leases, err := kube.CoordinationV1().Leases(controllerNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	suffix := fmt.Sprintf("-of-%02d", buckets)
	holders := map[string]string{}
	for _, l := range leases.Items {
		if !strings.HasPrefix(l.Name, controllerComponent+".") || !strings.HasSuffix(l.Name, suffix) {
			continue
		}
		holders[l.Name] = ""
		if l.Spec.HolderIdentity != nil {
			holders[l.Name] = *l.Spec.HolderIdentity
		}
	}
	return holders, nil
}

// mostBuckets returns the replica holding the most buckets (the lowest
// index among equals), its identity and its buckets.
func mostBuckets(holders map[string]string, replicaOf map[string]int) (int, string, sets.Set[string]) {
	held := map[string]sets.Set[string]{}
	for b, h := range holders {
		if held[h] == nil {
			held[h] = sets.New[string]()
		}
		held[h].Insert(b)
	}
	ids := sets.List(sets.KeySet(held))
	slices.SortFunc(ids, func(a, b string) int {
		if d := held[b].Len() - held[a].Len(); d != 0 {
			return d
		}
		return replicaOf[a] - replicaOf[b]
	})
	return replicaOf[ids[0]], ids[0], held[ids[0]]
}

// terminalEvents counts, per run, the Events whose reason is the run's final
// condition reason (a repeated Event counts as often as it was recorded).
func terminalEvents(ctx context.Context, ns string, runs []v1beta1.CustomRun) (map[types.UID]int32, error) {
	final := map[types.UID]string{}
	for i := range runs {
		final[runs[i].UID] = runs[i].Status.GetCondition(apis.ConditionSucceeded).Reason
	}
	evs, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	counts := map[types.UID]int32{}
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind != "CustomRun" || e.Reason != final[e.InvolvedObject.UID] {
			continue
		}
		counts[e.InvolvedObject.UID] += max(e.Count, 1)
	}
	return counts, nil
}

// runHistory is what a watch saw of one run's status.
type runHistory struct {
	final   *v1beta1.CustomRunStatus // the first final status seen
	changes []string                 // how it changed after that
}

// runHistories follows every update of the runs in a namespace.
type runHistories struct {
	mu   sync.Mutex
	runs map[string]*runHistory
	err  error // the watch failed: updates may have been missed
}

// watchRuns watches the CustomRuns of ns, from now until t ends, recording
// each run's first final status and any change after it.
func watchRuns(t *testing.T, ns string) *runHistories {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := tekton.TektonV1beta1().CustomRuns(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return tekton.TektonV1beta1().CustomRuns(ns).Watch(ctx, o)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &runHistories{runs: map[string]*runHistory{}}
	done := make(chan struct{})
	t.Cleanup(func() { w.Stop(); cancel(); <-done })
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			h.record(ev)
		}
	}()
	return h
}

func (h *runHistories) record(ev watch.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cr, ok := ev.Object.(*v1beta1.CustomRun)
	if ev.Type == watch.Error || !ok {
		if h.err == nil {
			h.err = fmt.Errorf("watch event %s: %v", ev.Type, ev.Object)
		}
		return
	}
	if ev.Type == watch.Deleted {
		return
	}
	r := h.runs[cr.Name]
	if r == nil {
		r = &runHistory{}
		h.runs[cr.Name] = r
	}
	c := cr.Status.GetCondition(apis.ConditionSucceeded)
	switch {
	case r.final == nil && c != nil && !c.IsUnknown():
		r.final = cr.Status.DeepCopy()
	case r.final != nil && !equality.Semantic.DeepEqual(r.final, &cr.Status):
		r.changes = append(r.changes, fmt.Sprintf("resourceVersion %s: Succeeded %+v", cr.ResourceVersion, c))
	}
}

// check fails t unless the watch saw every run of ended reach the final
// status it has now, and no change after it.
func (h *runHistories) check(t *testing.T, ended []v1beta1.CustomRun) {
	t.Helper()
	var unseen []string
	eventually(t, 30*time.Second, "the watch to see every run end", func(context.Context) (bool, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.err != nil {
			t.Fatalf("the watch on the runs failed, so it may have missed updates: %v", h.err)
		}
		unseen = unseen[:0]
		for i := range ended {
			if r := h.runs[ended[i].Name]; r == nil || r.final == nil {
				unseen = append(unseen, ended[i].Name)
			}
		}
		if len(unseen) > 0 {
			return false, fmt.Errorf("the watch has not seen %d runs end: %v", len(unseen), unseen)
		}
		return true, nil
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range ended {
		cr := &ended[i]
		r := h.runs[cr.Name]
		if len(r.changes) > 0 {
			t.Errorf("CustomRun %s changed after it ended %+v: %v", cr.Name, r.final.GetCondition(apis.ConditionSucceeded), r.changes)
		} else if !equality.Semantic.DeepEqual(r.final, &cr.Status) {
			t.Errorf("CustomRun %s: the watch saw it end with %+v, it now holds %+v", cr.Name, r.final, cr.Status)
		}
	}
}
