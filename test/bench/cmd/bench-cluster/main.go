// Command bench-cluster measures tekton-wasm's controller against the native
// baseline controller (test/bench/baseline) on the real-cluster rig
// (hack/cluster.sh), in one run, and prints one Markdown table: figure |
// ours | baseline | ratio | target. test/bench/cluster.sh (make
// bench-cluster) builds and registers what it needs and runs it; see
// docs/performance-cluster.md.
//
// Both controllers run at once and serve different kinds: ours the no-op
// plugin's kind (-ours-kind), the baseline its own (-baseline-kind). Latency
// runs alternate between the two; throughput and pipeline phases run one
// controller's batch after the other's. Every object lives in a namespace
// the driver creates and deletes; every wait has a timeout.
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	pipelineclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	"github.com/tektoncd/pipeline/pkg/client/informers/externalversions"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/test/bench/table"
)

// kindRef is a custom task kind.
type kindRef struct{ apiVersion, kind string }

func parseKind(s string) (kindRef, error) {
	i := strings.LastIndex(s, "/")
	if i < 0 {
		return kindRef{}, fmt.Errorf("kind %q: want APIVERSION/KIND, e.g. bench.tekton-wasm.dev/v1alpha1/Noop", s)
	}
	return kindRef{s[:i], s[i+1:]}, nil
}

type config struct {
	ours, baseline, wait, sleep, semver                        kindRef
	runs, burst, waiting, concurrent, pipelines, createWorkers int
	sleepFor, waitFor                                          time.Duration
	waitingRate                                                float64
	state, clusterSh, baselinePidFile, ociPlugin, deployment   string
	shipped                                                    int
	steps                                                      []string
}

// allSteps are the driver's steps, in the order they run.
var allSteps = []string{"latency", "throughput", "pipeline", "restart", "memory", "shipped"}

// parseSteps checks a comma-separated list of steps (-steps).
func parseSteps(s string) ([]string, error) {
	steps := strings.Split(s, ",")
	for _, st := range steps {
		if !slices.Contains(allSteps, st) {
			return nil, fmt.Errorf("-steps: unknown step %q (want some of %s)", st, strings.Join(allSteps, ","))
		}
	}
	return steps, nil
}

func main() {
	var c config
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "the rig's kubeconfig")
	ours := flag.String("ours-kind", "bench.tekton-wasm.dev/v1alpha1/Noop", "kind of the no-op plugin (APIVERSION/KIND)")
	base := flag.String("baseline-kind", "bench.tekton-wasm.dev/v1alpha1/NativeNoop", "kind the baseline controller serves")
	waitK := flag.String("wait-kind", "bench.tekton-wasm.dev/v1alpha1/Wait", "kind of the wait plugin (plugins/wait)")
	sleepK := flag.String("sleep-kind", "bench.tekton-wasm.dev/v1alpha1/Sleep", "kind of the sleep plugin (test/bench/plugins/sleep)")
	semverK := flag.String("semver-kind", "bench.tekton-wasm.dev/v1alpha1/SemVer", "kind of the C plugin plugins/semver, a second latency figure (empty: none)")
	flag.IntVar(&c.runs, "runs", 100, "sequential runs per controller for latency")
	flag.IntVar(&c.burst, "burst", 1000, "CustomRuns created at once for throughput")
	flag.IntVar(&c.waiting, "waiting", 1000, "waiting runs for the memory and lateness figures")
	flag.Float64Var(&c.waitingRate, "waiting-rate", 25, "waiting runs created per second: they come due at this rate, which the controller must sustain for the lateness to show the wake-up and not a backlog")
	flag.DurationVar(&c.waitFor, "wait-duration", 0, "the duration param of each waiting run: it must outlast creating them all (0: the creation time at -waiting-rate plus 1m)")
	flag.IntVar(&c.concurrent, "concurrent", 50, "concurrent sleeping invocations for the memory figure")
	flag.DurationVar(&c.sleepFor, "sleep", 15*time.Second, "how long each of the concurrent invocations sleeps")
	flag.IntVar(&c.pipelines, "pipelines", 3, "10-task PipelineRuns per controller")
	flag.IntVar(&c.createWorkers, "create-workers", 32, "concurrent creates in the throughput burst")
	flag.StringVar(&c.state, "state", "", "the rig's state directory (pids/, logs/, env)")
	flag.StringVar(&c.clusterSh, "cluster-sh", "hack/cluster.sh", "the rig script, to restart our controller")
	flag.StringVar(&c.baselinePidFile, "baseline-pid-file", "", "pid file of the baseline controller (for its RSS)")
	flag.StringVar(&c.ociPlugin, "oci-plugin", "", "name of a plugin whose module is in a registry (oci://…), for the restart figure of a cached pull (empty: none)")
	flag.IntVar(&c.shipped, "shipped-burst", 300, "CustomRuns of the shipped step's burst and of its restart drain")
	flag.StringVar(&c.deployment, "deployment", "config/500-controller.yaml", "the controller's Deployment, whose container args the shipped step starts our controller with")
	steps := flag.String("steps", strings.Join(allSteps, ","), "the steps to run, comma-separated")
	flag.Parse()
	var err error
	if c.steps, err = parseSteps(*steps); err != nil {
		fatal(err)
	}
	for _, k := range []struct {
		s   string
		dst *kindRef
	}{{*ours, &c.ours}, {*base, &c.baseline}, {*waitK, &c.wait}, {*sleepK, &c.sleep}} {
		var err error
		if *k.dst, err = parseKind(k.s); err != nil {
			fatal(err)
		}
	}
	if *semverK != "" {
		var err error
		if c.semver, err = parseKind(*semverK); err != nil {
			fatal(err)
		}
	}
	if c.waitingRate <= 0 {
		fatal(errors.New("-waiting-rate must be positive"))
	}
	if c.state == "" || *kubeconfig == "" {
		fatal(errors.New("-state and -kubeconfig (or $KUBECONFIG) are required"))
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	b := &bench{cfg: c, kube: kubernetes.NewForConfigOrDie(cfg), tekton: pipelineclient.NewForConfigOrDie(cfg)}
	ctx := context.Background()
	if err := b.run(ctx); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "bench-cluster: %v\n", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-cluster: "+format+"\n", args...)
}

type bench struct {
	cfg config
	// controllerFlags, when set, replace $TEKTON_WASM_CONTROLLER_FLAGS
	// for the controllers the driver starts (the shipped step).
	controllerFlags *string
	kube            kubernetes.Interface
	tekton          pipelineclient.Interface
	ns              string
	runs            *tracker
	rows            []row
}

// row is one line of the table; empty strings print as "—".
type row struct{ figure, ours, baseline, ratio, target string }

func (b *bench) add(r row) {
	b.rows = append(b.rows, r)
	logf("%s: ours %s, baseline %s, ratio %s (target %s)", r.figure, r.ours, r.baseline, r.ratio, r.target)
}

func (b *bench) run(ctx context.Context) error {
	ns, err := b.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating the namespace: %w", err)
	}
	b.ns = ns.Name
	defer func() {
		if err := b.kube.CoreV1().Namespaces().Delete(context.Background(), b.ns, metav1.DeleteOptions{}); err != nil {
			logf("deleting namespace %s: %v", b.ns, err)
		}
	}()
	stop := make(chan struct{})
	defer close(stop)
	if b.runs, err = startTracker(b.tekton, b.ns, stop); err != nil {
		return err
	}
	logf("namespace %s", b.ns)

	steps := map[string]func(context.Context) error{
		"latency":    b.latency,
		"throughput": b.throughput,
		"pipeline":   b.pipeline,
		"restart":    b.restart,
		"memory":     b.memory,
		"shipped":    b.shipped,
	}
	var failed []string
	for _, name := range allSteps {
		if !slices.Contains(b.cfg.steps, name) {
			continue
		}
		logf("--- %s", name)
		if err := steps[name](ctx); err != nil {
			logf("%s failed: %v", name, err)
			failed = append(failed, name)
			b.rows = append(b.rows, row{figure: name, ours: "FAILED: " + err.Error()})
		}
	}
	b.print(os.Stdout)
	if len(failed) > 0 {
		return fmt.Errorf("steps failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

func (b *bench) print(w io.Writer) {
	t := &table.Table{Header: []string{"figure", "ours", "baseline", "ratio", "target"}}
	for _, r := range b.rows {
		t.Add(r.figure, r.ours, r.baseline, r.ratio, r.target)
	}
	io.WriteString(w, t.String())
}

// ---- CustomRuns ------------------------------------------------------------

// customRun returns a CustomRun of kind k named name, labelled phase.
func (b *bench) customRun(name, phase string, k kindRef, params map[string]string, timeout time.Duration) *v1beta1.CustomRun {
	cr := &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: b.ns, Labels: map[string]string{"bench-phase": phase}},
		Spec: v1beta1.CustomRunSpec{
			CustomRef: &v1beta1.TaskRef{APIVersion: k.apiVersion, Kind: v1beta1.TaskKind(k.kind)},
		},
	}
	for n, v := range params {
		cr.Spec.Params = append(cr.Spec.Params, v1beta1.Param{Name: n, Value: *v1beta1.NewStructuredValues(v)})
	}
	if timeout > 0 {
		cr.Spec.Timeout = &metav1.Duration{Duration: timeout}
	}
	return cr
}

func (b *bench) create(ctx context.Context, cr *v1beta1.CustomRun) error {
	_, err := b.tekton.TektonV1beta1().CustomRuns(b.ns).Create(ctx, cr, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating CustomRun %s: %w", cr.Name, err)
	}
	return nil
}

// deletePhase deletes the phase's CustomRuns and waits until they are gone
// from the tracker's view.
func (b *bench) deletePhase(ctx context.Context, phase string) error {
	sel := "bench-phase=" + phase
	if err := b.tekton.TektonV1beta1().CustomRuns(b.ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil {
		return fmt.Errorf("deleting the %s runs: %w", phase, err)
	}
	return poll(ctx, 2*time.Minute, "the "+phase+" runs to be deleted", func() bool { return b.runs.count(phase) == 0 })
}

// checkSucceeded returns an error unless every named run ended True with
// the no-op's result.
func (b *bench) checkSucceeded(names []string, wantResult bool) error {
	bad := 0
	var first string
	for _, n := range names {
		s := b.runs.get(n)
		ok := s.done && s.succeeded && (!wantResult || s.result == "ok")
		if !ok {
			bad++
			if first == "" {
				first = fmt.Sprintf("%s: %+v", n, s)
			}
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d runs did not succeed with the result (first: %s)", bad, len(names), first)
	}
	return nil
}

// side is one controller serving one kind in the latency phase.
type side struct {
	name       string
	k          kindRef
	params     map[string]string
	wantResult bool // the no-op's result=ok
}

// sides returns the Go no-op plugin, the baseline and, when configured, the
// C plugin semver.
func (b *bench) sides() []side {
	sides := []side{
		{name: "ours", k: b.cfg.ours, wantResult: true},
		{name: "baseline", k: b.cfg.baseline, wantResult: true},
	}
	if b.cfg.semver.kind != "" {
		sides = append(sides, side{name: "ours-c", k: b.cfg.semver, params: map[string]string{"version": "1.2.3"}})
	}
	return sides
}

// plugin names a side's plugin in the table.
func (s side) plugin() string {
	switch s.name {
	case "ours":
		return "Go no-op plugin (reactor)"
	case "ours-c":
		return "C plugin semver"
	}
	return "native baseline"
}

func (b *bench) latency(ctx context.Context) error {
	sides := b.sides()
	lat := map[string][]time.Duration{}
	names := map[string][]string{}
	for i := 0; i < b.cfg.runs; i++ {
		for j := range sides {
			s := sides[(i+j)%len(sides)] // rotate which goes first
			name := fmt.Sprintf("lat-%s-%03d", s.name, i)
			names[s.name] = append(names[s.name], name)
			t0 := time.Now()
			if err := b.create(ctx, b.customRun(name, "latency", s.k, s.params, 0)); err != nil {
				return err
			}
			at, err := b.runs.waitDone(ctx, name, 30*time.Second)
			if err != nil {
				return err
			}
			lat[s.name] = append(lat[s.name], at.Sub(t0))
		}
	}
	for _, s := range sides {
		if err := b.checkSucceeded(names[s.name], s.wantResult); err != nil {
			return err
		}
	}
	for _, s := range sides {
		if s.name == "baseline" {
			continue
		}
		for _, q := range []float64{0.5, 0.99} {
			o, bl := quantile(lat[s.name], q), quantile(lat["baseline"], q)
			b.add(row{
				figure: fmt.Sprintf("CustomRun create → Succeeded seen by a watch, p%d, %s (%d sequential runs each, interleaved)", int(q*100), s.plugin(), b.cfg.runs),
				ours:   ms(o), baseline: ms(bl), ratio: ratio(o, bl), target: "≤ 1.2× baseline",
			})
		}
	}
	return b.deletePhase(ctx, "latency")
}

func (b *bench) throughput(ctx context.Context) error {
	got := map[string]time.Duration{}
	cpu := map[string]time.Duration{}
	sides := b.sides()
	for _, s := range sides {
		// Each burst from a quiet rig, as the restart (waitQuiet).
		waited, err := b.waitQuiet(ctx)
		if err != nil {
			return err
		}
		logf("%s: the rig was quiet after %s", s.name, waited.Round(time.Second))
		pid, err := b.controllerPid(s.name)
		if err != nil {
			return err
		}
		cpu0, err := cpuTime(pid)
		if err != nil {
			return err
		}
		phase := "burst-" + s.name
		names := make([]string, b.cfg.burst)
		for i := range names {
			names[i] = fmt.Sprintf("%s-%04d", phase, i)
		}
		t0 := time.Now()
		if err := parallel(ctx, b.cfg.createWorkers, names, func(ctx context.Context, n string) error {
			return b.create(ctx, b.customRun(n, phase, s.k, s.params, 0))
		}); err != nil {
			return err
		}
		created := time.Since(t0)
		var last time.Time
		for _, n := range names {
			at, err := b.runs.waitDone(ctx, n, 10*time.Minute-time.Since(t0))
			if err != nil {
				return err
			}
			if at.After(last) {
				last = at
			}
		}
		if err := b.checkSucceeded(names, s.wantResult); err != nil {
			return err
		}
		got[s.name] = last.Sub(t0)
		cpu1, err := cpuTime(pid)
		if err != nil {
			return err
		}
		cpu[s.name] = cpu1 - cpu0
		logf("%s: %d created in %s, all Succeeded after %s", s.name, b.cfg.burst, created.Round(time.Millisecond), got[s.name].Round(time.Millisecond))
		if err := b.deletePhase(ctx, phase); err != nil {
			return err
		}
	}
	rate := func(d time.Duration) string {
		return fmt.Sprintf("%.1f s (%.0f runs/s)", d.Seconds(), float64(b.cfg.burst)/d.Seconds())
	}
	perRun := func(d time.Duration) string {
		return fmt.Sprintf("%.1f s (%.1f ms per run)", d.Seconds(), float64(d.Microseconds())/1000/float64(b.cfg.burst))
	}
	for _, s := range sides {
		if s.name == "baseline" {
			continue
		}
		b.add(row{
			figure: fmt.Sprintf("%d CustomRuns created at once (%d creators) → all Succeeded, %s", b.cfg.burst, b.cfg.createWorkers, s.plugin()),
			ours:   rate(got[s.name]), baseline: rate(got["baseline"]),
			// Throughput is the inverse of the time.
			ratio:  fmt.Sprintf("%.2f× baseline throughput", got["baseline"].Seconds()/got[s.name].Seconds()),
			target: fmt.Sprintf("≥ 0.8× baseline, all %d Succeeded (checked)", b.cfg.burst),
		})
		b.add(row{
			figure: fmt.Sprintf("controller CPU time (user+system) in that burst, %s", s.plugin()),
			ours:   perRun(cpu[s.name]), baseline: perRun(cpu["baseline"]), ratio: ratio(cpu[s.name], cpu["baseline"]),
		})
	}
	return nil
}

// controllerPid returns the pid of our controller ("ours") or of the
// baseline, from their pid files.
func (b *bench) controllerPid(name string) (int, error) {
	if name == "baseline" {
		if b.cfg.baselinePidFile == "" {
			return 0, errors.New("-baseline-pid-file is required")
		}
		return readPid(b.cfg.baselinePidFile)
	}
	return readPid(filepath.Join(b.cfg.state, "pids", "controller.pid"))
}

// ---- Pipelines -------------------------------------------------------------

func (b *bench) pipeline(ctx context.Context) error {
	got := map[string][]time.Duration{}
	for _, s := range []struct {
		name string
		k    kindRef
	}{{"ours", b.cfg.ours}, {"baseline", b.cfg.baseline}} {
		p := &pipelinev1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "ten-" + s.name, Namespace: b.ns}}
		for i := 0; i < 10; i++ {
			t := pipelinev1.PipelineTask{
				Name:    fmt.Sprintf("t%d", i),
				TaskRef: &pipelinev1.TaskRef{APIVersion: s.k.apiVersion, Kind: pipelinev1.TaskKind(s.k.kind)},
			}
			if i > 0 {
				t.RunAfter = []string{fmt.Sprintf("t%d", i-1)}
			}
			p.Spec.Tasks = append(p.Spec.Tasks, t)
		}
		if _, err := b.tekton.TektonV1().Pipelines(b.ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Pipeline %s: %w", p.Name, err)
		}
		for i := 0; i < b.cfg.pipelines; i++ {
			name := fmt.Sprintf("ten-%s-%d", s.name, i)
			pr := &pipelinev1.PipelineRun{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: b.ns},
				Spec:       pipelinev1.PipelineRunSpec{PipelineRef: &pipelinev1.PipelineRef{Name: p.Name}},
			}
			t0 := time.Now()
			if _, err := b.tekton.TektonV1().PipelineRuns(b.ns).Create(ctx, pr, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating PipelineRun %s: %w", name, err)
			}
			at, err := b.waitPipelineRun(ctx, name, 2*time.Minute)
			if err != nil {
				return err
			}
			got[s.name] = append(got[s.name], at.Sub(t0))
		}
	}
	o, bl := quantile(got["ours"], 0.5), quantile(got["baseline"], 0.5)
	b.add(row{
		figure: fmt.Sprintf("10-task Pipeline (runAfter chain) PipelineRun create → Succeeded, median of %d", b.cfg.pipelines),
		ours:   ms(o) + " (" + msList(got["ours"]) + ")", baseline: ms(bl) + " (" + msList(got["baseline"]) + ")",
		ratio: ratio(o, bl), target: "< 3 s",
	})
	return nil
}

// waitPipelineRun watches the PipelineRun until it succeeds and returns when
// the watch saw it; it fails if it ends otherwise.
func (b *bench) waitPipelineRun(ctx context.Context, name string, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w, err := b.tekton.TektonV1().PipelineRuns(b.ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		return time.Time{}, fmt.Errorf("watching PipelineRun %s: %w", name, err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		pr, ok := ev.Object.(*pipelinev1.PipelineRun)
		if !ok {
			continue
		}
		if c := pr.Status.GetCondition(apis.ConditionSucceeded); c != nil && !c.IsUnknown() {
			if !c.IsTrue() {
				return time.Time{}, fmt.Errorf("PipelineRun %s ended %s: %s", name, c.Reason, c.Message)
			}
			return time.Now(), nil
		}
	}
	return time.Time{}, fmt.Errorf("PipelineRun %s not Succeeded within %s", name, timeout)
}

// ---- restart and memory ----------------------------------------------------

// restart kills our controller and starts it again with its warm on-disk
// compilation cache, and measures from the new process's start to each
// plugin's "Loaded plugin" log line and to /readiness answering 200.
func (b *bench) restart(ctx context.Context) error {
	quietAfter, err := b.waitQuiet(ctx)
	if err != nil {
		return err
	}
	before, err := b.rigCPU()
	if err != nil {
		return err
	}
	pid, started, readyAt, err := b.restartController(ctx)
	if err != nil {
		return err
	}
	after, err := b.rigCPU()
	if err != nil {
		return err
	}
	ours, err := cpuTime(pid)
	if err != nil {
		return err
	}
	loads, err := loadedPlugins(filepath.Join(b.cfg.state, "logs", "controller.log"))
	if err != nil {
		return err
	}
	var worst time.Duration
	var detail []string
	var oci *pluginLoad
	for _, l := range loads {
		if l.plugin == b.cfg.ociPlugin {
			oci = &l
			continue
		}
		d := l.at.Sub(started)
		worst = max(worst, d)
		detail = append(detail, fmt.Sprintf("%s %s, of which loading from the cache %s", l.plugin, ms(d), ms(l.compile)))
	}
	b.add(row{
		figure: "restart with a warm compilation cache: process start → each plugin loaded (" + strings.Join(detail, "; ") + ")",
		ours:   "max " + ms(worst), target: "< 200 ms each",
	})
	if b.cfg.ociPlugin != "" {
		if oci == nil {
			return fmt.Errorf("the controller logged no \"Loaded plugin\" line for %s after its restart", b.cfg.ociPlugin)
		}
		b.add(row{
			figure: fmt.Sprintf("restart, a plugin in an OCI registry (%s), module and compilation cached: process start → loaded, of which the pull from the module cache %s and loading the compiled code %s",
				oci.plugin, ms(oci.pull), ms(oci.compile)),
			ours: ms(oci.at.Sub(started)), target: "< 200 ms",
		})
	}
	b.add(row{figure: "restart: process start → /readiness 200 (all plugins present at start loaded)", ours: ms(readyAt.Sub(started))})
	b.add(row{
		figure: "restart: CPU used from the kill to /readiness 200 (" + ms(after.at.Sub(before.at)) + " on " + strconv.Itoa(runtime.NumCPU()) + " cores), by our new controller, the rest of the rig (" + cpuDelta(before, after) + ") and the machine; the kill waited " + quietAfter.Round(time.Second).String() + " for a quiet rig",
		ours:   fmt.Sprintf("ours %s, machine %s", ms(ours), ms(after.machine-before.machine)),
	})
	return nil
}

// quietCPU is how much CPU the rig's processes may use in a second
// for the rig to count as quiet.
const quietCPU = 150 * time.Millisecond

// waitQuiet waits, up to a minute, until the rig's processes (etcd, the
// apiserver, the controllers) together use less than quietCPU in a
// second, and returns how long it waited. After the pipeline step etcd
// used 0.1–0.4 of a core for about 20 s, and the apiserver CPU too, with
// almost no requests coming in (docs/performance.md, section 7), on the
// cores our controller restarts on: a restart into that measures their
// contention, not our start-up. It fails only when ctx ends; if the rig
// stays busy, it returns after the minute.
func (b *bench) waitQuiet(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	prev, err := b.rigCPU()
	if err != nil {
		return 0, err
	}
	for time.Since(start) < time.Minute {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
		cur, err := b.rigCPU()
		if err != nil {
			return 0, err
		}
		var busy time.Duration
		for _, d := range used(prev, cur) {
			busy += d
		}
		if busy < quietCPU {
			return time.Since(start), nil
		}
		prev = cur
	}
	logf("the rig stayed busy for a minute; measuring anyway")
	return time.Since(start), nil
}

// cpuSample is the CPU time used so far by each of the rig's processes
// (by name) and by the machine as a whole.
type cpuSample struct {
	at      time.Time
	procs   map[string]procCPU
	machine time.Duration
}

type procCPU struct {
	pid int
	t   time.Duration
}

// rigCPU samples the CPU time of the rig's processes (its pids/*.pid, our
// controller's named "ours"; the baseline's) and of the machine: what
// competes with a burst or a restarting controller for the cores.
func (b *bench) rigCPU() (cpuSample, error) {
	s := cpuSample{at: time.Now(), procs: map[string]procCPU{}}
	files, err := filepath.Glob(filepath.Join(b.cfg.state, "pids", "*.pid"))
	if err != nil {
		return s, err
	}
	if b.cfg.baselinePidFile != "" {
		files = append(files, b.cfg.baselinePidFile)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		switch {
		case name == "controller":
			name = "ours"
		case f == b.cfg.baselinePidFile:
			name = "baseline"
		}
		pid, err := readPid(f)
		if err != nil {
			continue // not running
		}
		if t, err := cpuTime(pid); err == nil {
			s.procs[name] = procCPU{pid, t}
		}
	}
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return s, err
	}
	st, err := fs.Stat()
	if err != nil {
		return s, err
	}
	c := st.CPUTotal
	busy := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	s.machine = time.Duration(math.Round(busy*1e3)) * time.Millisecond
	return s, nil
}

// used returns the CPU each process of after (the same process in
// before) used since before.
func used(before, after cpuSample) map[string]time.Duration {
	d := map[string]time.Duration{}
	for name, p := range after.procs {
		if p0, ok := before.procs[name]; ok && p0.pid == p.pid {
			d[name] = p.t - p0.t
		}
	}
	return d
}

// cpuDelta lists, largest first, the CPU each process of after used since
// before.
func cpuDelta(before, after cpuSample) string {
	type use struct {
		name string
		d    time.Duration
	}
	var uses []use
	for name, d := range used(before, after) {
		uses = append(uses, use{name, d})
	}
	slices.SortFunc(uses, func(a, b use) int { return cmp.Or(cmp.Compare(b.d, a.d), strings.Compare(a.name, b.name)) })
	parts := make([]string, len(uses))
	for i, u := range uses {
		parts[i] = u.name + " " + ms(u.d)
	}
	return strings.Join(parts, ", ")
}

// restartController SIGKILLs our controller, starts it again (hack/cluster.sh)
// and returns its pid, when the process started, and when /readiness first
// answered 200.
func (b *bench) restartController(ctx context.Context) (pid int, started, readyAt time.Time, err error) {
	if err = b.rig(ctx, "kill-controller"); err != nil {
		return
	}
	env, err := readEnv(filepath.Join(b.cfg.state, "env"))
	if err != nil {
		return
	}
	readyURL := "http://127.0.0.1:" + env["controller_probes_port"] + "/readiness"
	startErr := make(chan error, 1)
	go func() { startErr <- b.rig(context.WithoutCancel(ctx), "start-controller") }()
	// Poll readiness from before the process exists.
	client := &http.Client{Timeout: time.Second}
	err = poll(ctx, time.Minute, "our controller's /readiness", func() bool {
		resp, err := client.Get(readyURL)
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			readyAt = time.Now()
			return true
		}
		return false
	})
	if err = cmp.Or(<-startErr, err); err != nil {
		return
	}
	if pid, err = readPid(filepath.Join(b.cfg.state, "pids", "controller.pid")); err != nil {
		return
	}
	started, err = processStart(pid)
	return
}

func (b *bench) rig(ctx context.Context, cmd string) error {
	c := exec.CommandContext(ctx, b.cfg.clusterSh, cmd)
	c.Env = append(os.Environ(), "TEKTON_WASM_CLUSTER="+b.cfg.state)
	if b.controllerFlags != nil {
		c.Env = append(c.Env, "TEKTON_WASM_CONTROLLER_FLAGS="+*b.controllerFlags)
	}
	c.Stderr = os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", b.cfg.clusterSh, cmd, err)
	}
	return nil
}

func (b *bench) memory(ctx context.Context) error {
	// Go returns freed memory to the OS slowly: each figure starts from a
	// freshly restarted controller, measured after it settles.
	settle := func() (int, int64, error) {
		pid, _, _, err := b.restartController(ctx)
		if err != nil {
			return 0, 0, err
		}
		time.Sleep(5 * time.Second)
		r, err := rss(pid)
		return pid, r, err
	}
	pid, idle, err := settle()
	if err != nil {
		return err
	}
	var basePid int
	if b.cfg.baselinePidFile != "" {
		if basePid, err = b.controllerPid("baseline"); err != nil {
			return err
		}
	}
	var baseIdle string
	if basePid != 0 {
		r, err := rss(basePid)
		if err != nil {
			return err
		}
		baseIdle = mib(r) + " (after its latency, throughput and pipeline runs)"
	}
	parts, err := rssParts(pid)
	if err != nil {
		return err
	}
	b.add(row{figure: "controller RSS idle (ours: freshly restarted, plugins loaded; " + parts + ")", ours: mib(idle), baseline: baseIdle})

	// Runs waiting in Running/requeueAfter: the wait plugin, all due
	// waitFor after they started; then how late each was seen Succeeded.
	waitFor := b.cfg.waitFor
	if waitFor == 0 {
		waitFor = time.Minute + time.Duration(float64(b.cfg.waiting)/b.cfg.waitingRate*float64(time.Second))
	}
	pace := rate.NewLimiter(rate.Limit(b.cfg.waitingRate), 1)
	names := make([]string, b.cfg.waiting)
	for i := range names {
		names[i] = fmt.Sprintf("waiting-%05d", i)
	}
	created := make(map[string]time.Time, len(names))
	var mu sync.Mutex
	t0 := time.Now()
	if err := parallel(ctx, b.cfg.createWorkers, names, func(ctx context.Context, n string) error {
		if err := pace.Wait(ctx); err != nil {
			return err
		}
		at := time.Now()
		mu.Lock()
		created[n] = at
		mu.Unlock()
		return b.create(ctx, b.customRun(n, "waiting", b.cfg.wait, map[string]string{"duration": waitFor.String()}, 2*waitFor+5*time.Minute))
	}); err != nil {
		return err
	}
	createdIn := time.Since(t0)
	if err := poll(ctx, waitFor, fmt.Sprintf("%d runs Waiting", b.cfg.waiting), func() bool {
		return b.runs.countReason("waiting", "Running") == b.cfg.waiting
	}); err != nil {
		return fmt.Errorf("%w (created in %s; a longer -wait-duration lets them all be waiting at once)", err, createdIn.Round(time.Millisecond))
	}
	logf("%d runs Waiting after %s (created in %s)", b.cfg.waiting, time.Since(t0).Round(time.Millisecond), createdIn.Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	waiting, err := rss(pid)
	if err != nil {
		return err
	}
	b.add(row{
		figure: fmt.Sprintf("controller RSS with %d runs waiting in Running/requeueAfter (wait plugin, %s; created at %g a second, in %s)", b.cfg.waiting, waitFor, b.cfg.waitingRate, createdIn.Round(time.Second)),
		ours:   fmt.Sprintf("%s (+%s)", mib(waiting), mib(waiting-idle)), target: "< 300 MiB",
	})
	var late []time.Duration
	for _, n := range names {
		at, err := b.runs.waitDone(ctx, n, time.Until(t0.Add(createdIn+2*waitFor+time.Minute)))
		if err != nil {
			return err
		}
		late = append(late, lateness(b.runs.get(n), created[n], waitFor, at))
	}
	if err := b.checkSucceeded(names, false); err != nil {
		return err
	}
	b.add(row{
		figure: fmt.Sprintf("lateness of those %d runs: Succeeded seen by a watch − due (start + %s; an upper bound: the start is the later of the create request and the stored startTime, which has whole seconds), p50 / p99 / max", b.cfg.waiting, waitFor),
		ours:   fmt.Sprintf("%s / %s / %s", ms(quantile(late, 0.5)), ms(quantile(late, 0.99)), ms(slices.Max(late))), target: "p99 < 1 s",
	})
	if err := b.deletePhase(ctx, "waiting"); err != nil {
		return err
	}

	// Concurrent long-running Go invocations: the sleep plugin. A run's
	// Running condition is written once its invocation has run for the
	// controller's -status-delay, so all Running means all in a sandbox.
	names = make([]string, b.cfg.concurrent)
	for i := range names {
		names[i] = fmt.Sprintf("sleeping-%02d", i)
	}
	pid, before, err := settle()
	if err != nil {
		return err
	}
	t0 = time.Now()
	if err := parallel(ctx, b.cfg.createWorkers, names, func(ctx context.Context, n string) error {
		return b.create(ctx, b.customRun(n, "sleeping", b.cfg.sleep, map[string]string{"duration": b.cfg.sleepFor.String()}, 5*time.Minute))
	}); err != nil {
		return err
	}
	var peak, allRunning int64
	err = poll(ctx, b.cfg.sleepFor, fmt.Sprintf("%d sleeping runs Running", b.cfg.concurrent), func() bool {
		if r, err := rss(pid); err == nil {
			peak = max(peak, r)
		}
		return b.runs.countRunning("sleeping") == b.cfg.concurrent
	})
	if err != nil {
		return fmt.Errorf("%w (is the controller's -concurrency at least %d?)", err, b.cfg.concurrent)
	}
	if allRunning, err = rss(pid); err != nil {
		return err
	}
	peak = max(peak, allRunning)
	for _, n := range names {
		if _, err := b.runs.waitDone(ctx, n, b.cfg.sleepFor+time.Minute); err != nil {
			return err
		}
		if r, err := rss(pid); err == nil {
			peak = max(peak, r)
		}
	}
	if err := b.checkSucceeded(names, false); err != nil {
		return err
	}
	logf("%d sleeping runs all Succeeded after %s", b.cfg.concurrent, time.Since(t0).Round(time.Millisecond))
	b.add(row{
		figure: fmt.Sprintf("controller RSS with %d concurrent Go invocations (sleep plugin, %s each): when all %d Running / peak", b.cfg.concurrent, b.cfg.sleepFor, b.cfg.concurrent),
		ours:   fmt.Sprintf("%s / %s (+%s over %s idle after a restart)", mib(allRunning), mib(peak), mib(peak-before), mib(before)), target: "< 400 MiB",
	})
	return b.deletePhase(ctx, "sleeping")
}

// ---- the CustomRun tracker -------------------------------------------------

// runState is what the watch last showed of one CustomRun, and when it
// first showed it done.
type runState struct {
	done, succeeded, running bool
	reason, result           string
	doneAt                   time.Time
	phase                    string
	startTime                time.Time // status.startTime (whole seconds, as stored)
}

// tracker follows the namespace's CustomRuns through one informer (one
// watch) and records when each was first seen done.
type tracker struct {
	mu      sync.Mutex
	changed *sync.Cond
	runs    map[string]runState
}

func startTracker(client pipelineclient.Interface, ns string, stop <-chan struct{}) (*tracker, error) {
	t := &tracker{runs: map[string]runState{}}
	t.changed = sync.NewCond(&t.mu)
	f := externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithNamespace(ns))
	inf := f.Tekton().V1beta1().CustomRuns().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    t.observe,
		UpdateFunc: func(_, obj any) { t.observe(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if cr, ok := obj.(*v1beta1.CustomRun); ok {
				t.mu.Lock()
				delete(t.runs, cr.Name)
				t.mu.Unlock()
			}
		},
	})
	if err != nil {
		return nil, err
	}
	f.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		return nil, errors.New("the CustomRun informer did not sync")
	}
	return t, nil
}

func (t *tracker) observe(obj any) {
	now := time.Now()
	cr, ok := obj.(*v1beta1.CustomRun)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.runs[cr.Name]
	s.phase = cr.Labels["bench-phase"]
	if cr.Status.StartTime != nil {
		s.startTime = cr.Status.StartTime.Time
	}
	if c := cr.Status.GetCondition(apis.ConditionSucceeded); c != nil {
		s.reason = c.Reason
		s.running = c.IsUnknown()
		if !c.IsUnknown() && !s.done {
			s.done, s.succeeded, s.doneAt = true, c.IsTrue(), now
			for _, r := range cr.Status.Results {
				if r.Name == "result" {
					s.result = r.Value
				}
			}
		}
	}
	t.runs[cr.Name] = s
	t.changed.Broadcast()
}

func (t *tracker) get(name string) runState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.runs[name]
}

// waitDone returns when the watch first showed the run done.
func (t *tracker) waitDone(ctx context.Context, name string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { t.mu.Lock(); t.changed.Broadcast(); t.mu.Unlock() })
	defer timer.Stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		if s := t.runs[name]; s.done {
			return s.doneAt, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("CustomRun %s not done within %s (last seen: %+v)", name, timeout, t.runs[name])
		}
		t.changed.Wait()
	}
}

func (t *tracker) countWhere(phase string, f func(runState) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.runs {
		if s.phase == phase && f(s) {
			n++
		}
	}
	return n
}

func (t *tracker) count(phase string) int {
	return t.countWhere(phase, func(runState) bool { return true })
}

func (t *tracker) countReason(phase, reason string) int {
	return t.countWhere(phase, func(s runState) bool { return s.running && s.reason == reason })
}

func (t *tracker) countRunning(phase string) int {
	return t.countWhere(phase, func(s runState) bool { return s.running })
}

// ---- helpers ---------------------------------------------------------------

// lateness is how long after it was due a wait run of duration d was seen
// done at doneAt: due is d after its start, taken as the later of when
// its create request was sent and its stored startTime (whole seconds,
// truncated), both no later than the true start, so the result is an
// upper bound.
func lateness(s runState, created time.Time, d time.Duration, doneAt time.Time) time.Duration {
	start := created
	if s.startTime.After(start) {
		start = s.startTime
	}
	return doneAt.Sub(start.Add(d))
}

// parallel calls fn for each item with at most n at once; the first error
// stops it.
func parallel(ctx context.Context, n int, items []string, fn func(context.Context, string) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(ctx, it) })
	}
	return g.Wait()
}

// poll calls cond every 10 ms until it is true or timeout passes.
func poll(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, timeout, true, func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		return fmt.Errorf("waiting %s for %s: %w", timeout, what, err)
	}
	return nil
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	// Nearest rank.
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func msList(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, strconv.FormatInt(d.Milliseconds(), 10))
	}
	return strings.Join(s, ", ") + " ms"
}

func ratio(ours, base time.Duration) string {
	if base == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", ours.Seconds()/base.Seconds())
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// rss returns pid's resident set size (VmRSS) in bytes.
func rss(pid int) (int64, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, fmt.Errorf("reading the RSS of pid %d: %w", pid, err)
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0, fmt.Errorf("reading the RSS of pid %d: %w", pid, err)
	}
	return int64(st.VmRSS), nil
}

// rssParts says where pid's resident memory is, from /proc/<pid>/smaps:
// the pages of files (for a controller, mostly its binary), anonymous
// executable mappings (wazero's compiled machine code) and the rest (the
// Go heap, stacks, linear memories).
func rssParts(pid int) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return "", fmt.Errorf("reading the memory map of pid %d: %w", pid, err)
	}
	defer f.Close()
	var files, code, rest int64
	kind := &rest
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && len(fields[1]) == 4:
			// A mapping's first line: address perms offset dev inode [path].
			switch {
			case fields[4] != "0":
				kind = &files
			case strings.Contains(fields[1], "x"):
				kind = &code
			default:
				kind = &rest
			}
		case len(fields) == 3 && fields[0] == "Rss:":
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return "", fmt.Errorf("reading the memory map of pid %d: %q: %w", pid, sc.Text(), err)
			}
			*kind += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading the memory map of pid %d: %w", pid, err)
	}
	return fmt.Sprintf("files %s, anonymous executable (compiled plugins) %s, the rest %s", mib(files), mib(code), mib(rest)), nil
}

// readPid reads the pid in the first field of a pid file (hack/cluster.sh
// writes "PID BINARY").
func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("%s is empty", path)
	}
	return strconv.Atoi(f[0])
}

func readEnv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

// procStat returns pid's /proc/<pid>/stat.
func procStat(pid int) (procfs.ProcStat, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStat{}, err
	}
	return p.Stat()
}

// cpuTime returns the user+system CPU time pid has used (10 ms resolution).
func cpuTime(pid int) (time.Duration, error) {
	st, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return time.Duration(math.Round(st.CPUTime()*1e3)) * time.Millisecond, nil
}

// processStart returns when pid started, from /proc (10 ms resolution).
// The start in /proc/<pid>/stat counts clock ticks since boot; the boot
// time is taken from /proc/uptime, not from /proc/stat's btime, which is
// truncated to whole seconds and would put every start up to 1 s early.
func processStart(pid int) (time.Time, error) {
	st, err := procStat(pid)
	if err != nil {
		return time.Time{}, err
	}
	boot, err := bootTime()
	if err != nil {
		return time.Time{}, err
	}
	return boot.Add(time.Duration(st.Starttime) * time.Second / userHZ), nil
}

// userHZ is the unit of the times in /proc/<pid>/stat.
const userHZ = 100

// bootTime returns when the machine booted, to 10 ms: now less the
// uptime, which counts from the same clock as the processes' start times.
func bootTime() (time.Time, error) {
	now := time.Now()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Time{}, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return time.Time{}, fmt.Errorf("/proc/uptime is empty")
	}
	up, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("/proc/uptime: %w", err)
	}
	return now.Add(-time.Duration(math.Round(up*1e3)) * time.Millisecond), nil
}

type pluginLoad struct {
	plugin        string
	at            time.Time
	compile, pull time.Duration // pull: for a module in a registry
}

// loadedPlugins reads the "Loaded plugin" lines of the controller's log
// since its last start (hack/cluster.sh's "=== controller start" marker).
func loadedPlugins(path string) ([]pluginLoad, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var loads []pluginLoad
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "=== controller start") {
			loads = nil
			continue
		}
		var e struct {
			Message     string  `json:"message"`
			Timestamp   string  `json:"timestamp"`
			Plugin      string  `json:"plugin"`
			CompileTime float64 `json:"compileTime"`
			PullTime    float64 `json:"pullTime"`
		}
		if json.Unmarshal([]byte(l), &e) != nil || e.Message != "Loaded plugin" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, e.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("%s: timestamp %q: %w", path, e.Timestamp, err)
		}
		loads = append(loads, pluginLoad{plugin: e.Plugin, at: at,
			compile: time.Duration(e.CompileTime * float64(time.Second)), pull: time.Duration(e.PullTime * float64(time.Second))})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(loads) == 0 {
		return nil, fmt.Errorf("no \"Loaded plugin\" line in %s since the controller's last start", path)
	}
	return loads, nil
}

// ---- the controller as shipped ---------------------------------------------

// shippedTarget is the shipped step's target (issue 12): the shipped
// client budget is Tekton's controller's, and a no-op run costs one
// status write of it.
const shippedTarget = "≈ 20 runs/s: a client budget of at least Tekton's controller's (20 QPS), one status write per run"

// shipped measures our controller started with exactly the flags of its
// Deployment (config/), beside the directories the rig gives it: a burst
// of -shipped-burst no-op runs, then as many runs created while it is
// down, drained after it starts again. It starts the controller again
// with the rig's flags afterwards.
func (b *bench) shipped(ctx context.Context) error {
	args, err := deploymentArgs(b.cfg.deployment)
	if err != nil {
		return err
	}
	flags := strings.Join(args, " ")
	b.controllerFlags = &flags
	defer func() {
		b.controllerFlags = nil
		if _, _, _, err := b.restartController(context.WithoutCancel(ctx)); err != nil {
			logf("starting our controller again with the rig's flags: %v", err)
		}
	}()
	if _, _, _, err := b.restartController(ctx); err != nil {
		return err
	}
	n := b.cfg.shipped
	burst := func(phase string) ([]string, error) {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("%s-%04d", phase, i)
		}
		return names, parallel(ctx, b.cfg.createWorkers, names, func(ctx context.Context, name string) error {
			return b.create(ctx, b.customRun(name, phase, b.cfg.ours, nil, 0))
		})
	}
	allDone := func(names []string, since time.Time) (time.Duration, error) {
		var last time.Time
		for _, name := range names {
			at, err := b.runs.waitDone(ctx, name, 10*time.Minute-time.Since(since))
			if err != nil {
				return 0, err
			}
			if at.After(last) {
				last = at
			}
		}
		return last.Sub(since), b.checkSucceeded(names, true)
	}

	t0 := time.Now()
	names, err := burst("shipped-burst")
	if err != nil {
		return err
	}
	took, err := allDone(names, t0)
	if err != nil {
		return err
	}
	b.add(row{
		figure: fmt.Sprintf("our controller as shipped (%s: `%s`): %d CustomRuns created at once (%d creators) → all Succeeded, Go no-op plugin", b.cfg.deployment, flags, n, b.cfg.createWorkers),
		ours:   fmt.Sprintf("%.1f s (%.0f runs/s)", took.Seconds(), float64(n)/took.Seconds()),
		target: shippedTarget,
	})
	if err := b.deletePhase(ctx, "shipped-burst"); err != nil {
		return err
	}

	// Runs created while the controller is down, drained after its start.
	if err := b.rig(ctx, "kill-controller"); err != nil {
		return err
	}
	if names, err = burst("shipped-drain"); err != nil {
		return err
	}
	_, started, _, err := b.restartController(ctx)
	if err != nil {
		return err
	}
	took, err = allDone(names, started)
	if err != nil {
		return err
	}
	b.add(row{
		figure: fmt.Sprintf("our controller as shipped, restarted with %d runs pending: process start → all Succeeded", n),
		ours:   fmt.Sprintf("%.1f s (%.0f runs/s)", took.Seconds(), float64(n)/took.Seconds()),
		target: shippedTarget,
	})
	return b.deletePhase(ctx, "shipped-drain")
}

// deploymentArgs returns the args of the controller container of the
// Deployment in path (the first document of its kind there), less the
// directories the rig sets itself (-cache-dir=…, -workspace-dir=…; the
// Deployment writes each flag and its value as one arg).
func deploymentArgs(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != "controller" {
				continue
			}
			var args []string
			for _, a := range c.Args {
				name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if name != "cache-dir" && name != "workspace-dir" {
					args = append(args, a)
				}
			}
			return args, nil
		}
	}
	return nil, fmt.Errorf("%s holds no Deployment with a container named controller", path)
}
