package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestQuantileNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := quantile(ds, q); got != want {
			t.Errorf("quantile(1..100 ms, %v) = %v, want %v", q, got, want)
		}
	}
	if got := quantile([]time.Duration{3, 1, 2}, 0.5); got != 2 {
		t.Errorf("quantile({3,1,2}, 0.5) = %v, want 2", got)
	}
	if ds[0] != 100*time.Millisecond {
		t.Errorf("quantile sorted its argument in place")
	}
}

func TestParseKind(t *testing.T) {
	k, err := parseKind("bench.tekton-wasm.dev/v1alpha1/Noop")
	if err != nil || k != (kindRef{"bench.tekton-wasm.dev/v1alpha1", "Noop"}) {
		t.Errorf("parseKind = %+v, %v", k, err)
	}
	if _, err := parseKind("Noop"); err == nil {
		t.Error("parseKind(\"Noop\") did not fail")
	}
}

func TestLoadedPluginsSinceLastStart(t *testing.T) {
	log := `=== controller start 2026-11-29T04:10:00+00:00
{"severity":"info","timestamp":"2026-11-29T04:10:01.000Z","message":"Loaded plugin","plugin":"old","compileTime":1.5}
=== controller start 2026-11-29T04:11:00+00:00
2026/11/29 04:11:00 Registering 1 controllers
{"severity":"info","timestamp":"2026-11-29T04:11:01.250Z","message":"Loaded plugin","plugin":"noop","compileTime":0.05}
{"severity":"info","timestamp":"2026-11-29T04:11:01.300Z","message":"Reconcile succeeded","plugin":"noop"}
{"severity":"info","timestamp":"2026-11-29T04:11:01.400Z","message":"Loaded plugin","plugin":"oci","compileTime":0.06,"pullTime":0.012}
`
	path := filepath.Join(t.TempDir(), "controller.log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadedPlugins(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []pluginLoad{
		{plugin: "noop", at: time.Date(2026, 11, 29, 4, 11, 1, 250e6, time.UTC), compile: 50 * time.Millisecond},
		{plugin: "oci", at: time.Date(2026, 11, 29, 4, 11, 1, 400e6, time.UTC), compile: 60 * time.Millisecond, pull: 12 * time.Millisecond},
	}
	if len(got) != len(want) {
		t.Fatalf("loadedPlugins = %+v, want %+v", got, want)
	}
	for i, w := range want {
		if g := got[i]; g.plugin != w.plugin || !g.at.Equal(w.at) || g.compile != w.compile || g.pull != w.pull {
			t.Errorf("loadedPlugins[%d] = %+v, want %+v", i, g, w)
		}
	}
}

func TestParseSteps(t *testing.T) {
	if got, err := parseSteps("restart"); err != nil || len(got) != 1 || got[0] != "restart" {
		t.Errorf("parseSteps(restart) = %v, %v", got, err)
	}
	if got, err := parseSteps("memory,latency"); err != nil || len(got) != 2 {
		t.Errorf("parseSteps(memory,latency) = %v, %v", got, err)
	}
	if _, err := parseSteps("restart,warmup"); err == nil || !strings.Contains(err.Error(), `unknown step "warmup"`) {
		t.Errorf("parseSteps(restart,warmup) = %v; want an error naming warmup", err)
	}
}

// TestProcessStart starts a process and checks that processStart puts its
// start between the moments before and after starting it (to the 10 ms
// of /proc), not up to a second early as the whole-second btime would.
func TestProcessStart(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	before := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	start, err := processStart(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	const slack = 25 * time.Millisecond // two /proc resolutions, and rounding
	if start.Before(before.Add(-slack)) || start.After(after.Add(slack)) {
		t.Errorf("processStart = %s; the process started between %s and %s", start.Format(time.StampMilli), before.Format(time.StampMilli), after.Format(time.StampMilli))
	}
}

func TestProcOfThisProcess(t *testing.T) {
	pid := os.Getpid()
	start, err := processStart(pid)
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(start); age < 0 || age > time.Hour {
		t.Errorf("processStart(self) = %v, %v ago; want within the last hour", start, age)
	}
	if _, err := cpuTime(pid); err != nil {
		t.Error(err)
	}
	r, err := rss(pid)
	if err != nil || r < 1<<20 {
		t.Errorf("rss(self) = %d, %v; want at least 1 MiB", r, err)
	}
}

func TestPrintTable(t *testing.T) {
	b := &bench{rows: []row{
		{figure: "CustomRun create → Succeeded seen by a watch, p50", ours: "12 ms", baseline: "10 ms", ratio: "1.20×", target: "≤ 1.2× baseline"},
		{figure: "restart: process start → /readiness 200", ours: "80 ms"},
		{figure: "memory", ours: "FAILED: waiting 1m0s for our controller's /readiness"},
	}}
	var out strings.Builder
	b.print(&out)
	want := `| figure | ours | baseline | ratio | target |
|---|---|---|---|---|
| CustomRun create → Succeeded seen by a watch, p50 | 12 ms | 10 ms | 1.20× | ≤ 1.2× baseline |
| restart: process start → /readiness 200 | 80 ms | — | — | — |
| memory | FAILED: waiting 1m0s for our controller's /readiness | — | — | — |
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestParallelStopsAtTheFirstError(t *testing.T) {
	items := make([]string, 100)
	for i := range items {
		items[i] = strconv.Itoa(i)
	}
	var mu sync.Mutex
	running, most, calls := 0, 0, 0
	boom := errors.New("boom")
	err := parallel(context.Background(), 4, items, func(ctx context.Context, it string) error {
		mu.Lock()
		running++
		calls++
		most = max(most, running)
		mu.Unlock()
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		if it == "10" {
			return boom
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("parallel = %v, want %v", err, boom)
	}
	if most > 4 {
		t.Errorf("%d calls ran at once, want at most 4", most)
	}
	if calls == len(items) {
		t.Errorf("all %d items ran after the error", calls)
	}
}

// TestLatenessUsesTheLaterStart: a wait run is due its duration after the
// later of its create request and its stored startTime (whole seconds).
func TestLatenessUsesTheLaterStart(t *testing.T) {
	base := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	d := time.Minute
	for _, c := range []struct {
		name             string
		created, started time.Time
		want             time.Duration
	}{
		// Started within the second it was created in: the stored
		// startTime is truncated, so the create time is the later.
		{"truncated startTime", base.Add(400 * time.Millisecond), base, 300 * time.Millisecond},
		// Started seconds after the create (a throttled first write).
		{"started later", base, base.Add(3 * time.Second), -2300 * time.Millisecond},
	} {
		done := base.Add(d + 700*time.Millisecond)
		if got := lateness(runState{startTime: c.started}, c.created, d, done); got != c.want {
			t.Errorf("%s: lateness = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDeploymentArgs: the shipped step starts our controller with the
// Deployment's args, less the directories the rig sets.
func TestDeploymentArgs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "controller.yaml")
	os.WriteFile(path, []byte(`apiVersion: v1
kind: Namespace
metadata: {name: x}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: c}
spec:
  template:
    spec:
      containers:
        - name: sidecar
          args: [-ignored]
        - name: controller
          args: [-cache-dir=/var/cache, "--workspace-dir", -concurrency=8, -status-delay=2s]
`), 0o644)
	got, err := deploymentArgs(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "-concurrency=8 -status-delay=2s"; strings.Join(got, " ") != want {
		t.Errorf("deploymentArgs = %q, want %q", got, want)
	}
	// The repository's own Deployment parses.
	if _, err := deploymentArgs("../../../../config/500-controller.yaml"); err != nil {
		t.Error(err)
	}
}

// rssParts reads this process's memory map: its binary is file-backed
// and resident, and the parts add up to about its RSS.
func TestRSSParts(t *testing.T) {
	parts, err := rssParts(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(parts)
	if !strings.HasPrefix(parts, "files ") || strings.HasPrefix(parts, "files 0 MiB") {
		t.Errorf("rssParts = %q; want the binary's resident pages counted as files", parts)
	}
}
