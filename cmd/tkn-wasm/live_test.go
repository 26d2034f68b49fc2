package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/runtime/pipelinerun"
	clocktesting "k8s.io/utils/clock/testing"
)

// screen is what a terminal shows after out: it knows the escape
// sequences the live view writes (cursor up n lines to column 0, erase
// to the end of the screen) and fails the test on any other.
func screen(t *testing.T, out string) []string {
	t.Helper()
	lines, row := []string{""}, 0
	seq := regexp.MustCompile(`^\x1b\[(\d*)([A-Za-z])`)
	for len(out) > 0 {
		switch {
		case out[0] == '\x1b':
			m := seq.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("unknown escape sequence at %q", out)
			}
			switch m[2] {
			case "F":
				n, _ := strconv.Atoi(m[1])
				row = max(row-n, 0)
			case "J":
				lines = append(lines[:row], "")
			default:
				t.Fatalf("unexpected escape sequence %q", m[0])
			}
			out = out[len(m[0]):]
		case out[0] == '\n':
			row++
			if row == len(lines) {
				lines = append(lines, "")
			}
			out = out[1:]
		default:
			i := strings.IndexAny(out, "\x1b\n")
			if i < 0 {
				i = len(out)
			}
			lines[row] += out[:i]
			out = out[i:]
		}
	}
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// The live view, step by step on a 60×6 terminal with a fake clock: runs
// in progress stay in the block at the bottom, their durations moving
// with the clock; ended and skipped tasks and log lines go above it
// once; a block taller than the terminal counts what it leaves out;
// lines are cut to the width; Close leaves the last block.
func TestLiveView(t *testing.T) {
	c := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var out bytes.Buffer
	width := 60
	v := newLiveView(&out, c, func() (int, int) { return width, 6 })
	v.start(liveRedrawInterval)
	defer v.Close()
	started := func(task string) pipelinerun.Event {
		return pipelinerun.Event{Task: task, CustomRun: "pr-" + task, State: "Started", Reason: "Started"}
	}
	step := func(name string, do func(), want ...string) {
		t.Helper()
		do()
		v.mu.Lock() // the view writes under it
		got := screen(t, out.String())
		v.mu.Unlock()
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: screen (-want +got):\n%s", name, d)
		}
	}

	step("a starts", func() { v.Event(started("a")) },
		"a                        Started    Started (0s)")
	step("the clock moves", func() {
		c.Step(1500 * time.Millisecond) // the ticker redraws
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			v.mu.Lock()
			moved := strings.Contains(out.String(), "(1.5s)")
			v.mu.Unlock()
			if moved {
				return
			}
		}
	},
		"a                        Started    Started (1.5s)")
	step("b starts 0.2s ago, a logs", func() {
		ev := started("b")
		ev.Elapsed = 200 * time.Millisecond
		v.Event(ev)
		v.Write([]byte("a: hello\n"))
	},
		"a: hello",
		"a                        Started    Started (1.5s)",
		"b                        Started    Started (200ms)")
	step("a waits, c is skipped", func() {
		v.Event(pipelinerun.Event{Task: "a", CustomRun: "pr-a", State: "Running", Reason: "Running", Elapsed: 1500 * time.Millisecond})
		v.Event(pipelinerun.Event{Task: "c", State: pipelinerun.StateSkipped, Reason: "When Expressions evaluated to false"})
	},
		"a: hello",
		"c                        Skipped    When Expressions evaluated to false",
		"a                        Running    Running (1.5s)",
		"b                        Started    Started (200ms)")
	step("a ends", func() {
		c.Step(time.Second)
		v.Event(pipelinerun.Event{Task: "a", CustomRun: "pr-a", State: pipelinerun.StateSucceeded, Reason: "DurationElapsed", Elapsed: 2512 * time.Millisecond})
	},
		"a: hello",
		"c                        Skipped    When Expressions evaluated to false",
		"a                        Succeeded  DurationElapsed (2.512s)",
		"b                        Started    Started (1.2s)")
	step("six more start on a 6-line terminal", func() {
		for _, task := range []string{"d", "e", "f", "g", "h", "i"} {
			v.Event(started(task))
		}
	},
		"a: hello",
		"c                        Skipped    When Expressions evaluated to false",
		"a                        Succeeded  DurationElapsed (2.512s)",
		"b                        Started    Started (1.2s)",
		"d                        Started    Started (0s)",
		"e                        Started    Started (0s)",
		"f                        Started    Started (0s)",
		"… and 3 more running")
	narrowed := []string{
		"a: hello",
		"c                        Skipped    When Expressions evaluated to false",
		"a                        Succeeded  DurationElapsed (2.512s)",
		"b                        Failed     ConstraintNotSatisfied (1.2s)",
		"d                        Started",
		"e                        Started",
		"f                        Started",
		"g                        Started",
		"… and 2 more running",
	}
	step("the terminal narrows", func() {
		v.mu.Lock() // size is read under it
		width = 33  // 32 columns: up to the end of "Started"
		v.mu.Unlock()
		v.Event(pipelinerun.Event{Task: "b", CustomRun: "pr-b", State: pipelinerun.StateFailed, Reason: "ConstraintNotSatisfied", Elapsed: 1200 * time.Millisecond})
	},
		narrowed...)
	step("close, then nothing more", func() {
		v.Close()
		v.Event(started("j"))
	},
		narrowed...)
}

// --progress picks the view: auto is plain when stderr is not a terminal
// (as in every other test here), live draws the block anyway; anything
// else is a usage error.
func TestProgressFlag(t *testing.T) {
	var buf bytes.Buffer
	for p, want := range map[progressFlag]string{progressAuto: "main.plainView", progressPlain: "main.plainView", progressLive: "*main.liveView"} {
		v := p.view(&buf)
		if got := fmt.Sprintf("%T", v); got != want {
			t.Errorf("--progress=%s: %s, want %s", p, got, want)
		}
		v.Close()
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--progress", "fancy", "-f", "testdata/wait-1s.yaml", "--plugins", "."}, nil, &stdout, &stderr)
	if want := `invalid argument "fancy" for "--progress" flag: "fancy" is not auto, live or plain`; code != exitUsage || !strings.Contains(stderr.String(), want) {
		t.Errorf("exit code %d, want %d and %q:\n%s", code, exitUsage, want, stderr.String())
	}
}

// With --progress=live, an example's screen at the end shows each task's
// final line once (what plain prints last for it), the plugins' log
// lines, and no block.
func TestRunPipelineLive(t *testing.T) {
	plugins, cache := pipelinePlugins(t), t.TempDir()
	f := "../../examples/pipelines/when-finally.yaml"
	var plain, live, stdout bytes.Buffer
	for _, c := range []struct {
		progress string
		stderr   *bytes.Buffer
	}{{"plain", &plain}, {"live", &live}} {
		run(context.Background(), []string{"run", "--progress", c.progress, "--cache-dir", cache, "-f", f, "--plugins", plugins}, nil, &stdout, c.stderr)
	}
	last := map[string]string{}
	var logs []string
	for _, l := range strings.Split(strings.TrimSpace(plain.String()), "\n") {
		if task, _, _ := strings.Cut(l, " "); strings.HasSuffix(task, ":") {
			logs = append(logs, l)
		} else {
			last[task] = elapsed.ReplaceAllString(l, "(<d>)")
		}
	}
	var want []string
	for _, l := range last {
		want = append(want, l)
	}
	want = append(want, logs...)
	got := screen(t, live.String())
	for i, l := range got {
		got[i] = elapsed.ReplaceAllString(l, "(<d>)")
	}
	slices.Sort(want)
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("live screen (-plain's last lines +live):\n%s", d)
	}
}
