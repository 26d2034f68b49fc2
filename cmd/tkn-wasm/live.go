package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tekton-wasm/tekton-wasm/runtime/pipelinerun"
	"golang.org/x/term"
	"k8s.io/utils/clock"
)

// progressView shows a PipelineRun's progress on stderr: the tasks'
// state changes (Event) and the plugins' log lines (Write, whole lines
// at a time). Close leaves the final state on screen; nothing is written
// after it.
type progressView interface {
	io.Writer
	Event(pipelinerun.Event)
	Close()
}

// view is the progressView --progress asks for on stderr: auto is live
// when stderr is a terminal (and TERM is not dumb).
func (p progressFlag) view(stderr io.Writer) progressView {
	fd, tty := terminal(stderr)
	if p == progressPlain || (p == progressAuto && (!tty || os.Getenv("TERM") == "dumb")) {
		return plainView{stderr}
	}
	size := func() (int, int) { return 0, 0 }
	if tty {
		size = func() (int, int) {
			w, h, err := term.GetSize(fd)
			if err != nil {
				return 0, 0
			}
			return w, h
		}
	}
	v := newLiveView(stderr, clock.RealClock{}, size)
	v.start(liveRedrawInterval)
	return v
}

// terminal returns w's file descriptor if w is a terminal.
func terminal(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// progressLine is a task's line: its name, state and reason, and the
// time since its run started, rounded to round (none for a skipped task).
func progressLine(ev pipelinerun.Event, round time.Duration) string {
	line := fmt.Sprintf("%-24s %-10s %s", ev.Task, ev.State, ev.Reason)
	if ev.CustomRun != "" {
		line += fmt.Sprintf(" (%s)", ev.Elapsed.Round(round))
	}
	return line
}

// plainView prints a line per change of a task's state, for logs and
// pipes.
type plainView struct{ w io.Writer }

func (v plainView) Event(ev pipelinerun.Event) {
	fmt.Fprintln(v.w, progressLine(ev, time.Millisecond))
}

func (v plainView) Write(b []byte) (int, error) { return v.w.Write(b) }

func (v plainView) Close() {}

// The live view's defaults: how often it redraws, and the terminal's
// size when it cannot be read.
const (
	liveRedrawInterval = 100 * time.Millisecond
	defaultWidth       = 80
	defaultHeight      = 24
)

// liveView is the terminal's view: a block at the bottom of the screen
// with one line per task whose run is in progress (state, reason and
// the time so far), redrawn in place on every change and every
// liveRedrawInterval. A task that ends (or is skipped) leaves the block
// for the lines above it, once, with its final state and duration; the
// plugins' log lines go there too. Block lines are cut to the terminal's
// width, so none wraps, and a block taller than the terminal ends with a
// line counting the tasks it leaves out.
type liveView struct {
	w     io.Writer
	clock clock.WithTicker
	size  func() (width, height int) // 0 when unknown

	mu      sync.Mutex
	running []*liveTask // in the order they started
	drawn   int         // lines of the block on screen
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
}

// liveTask is a run in progress: its latest event and when its run
// started, by the view's clock.
type liveTask struct {
	ev    pipelinerun.Event
	start time.Time
}

func newLiveView(w io.Writer, c clock.WithTicker, size func() (int, int)) *liveView {
	return &liveView{w: w, clock: c, size: size}
}

// start redraws the block every interval until Close, so that the
// durations of the runs in progress move.
func (v *liveView) start(interval time.Duration) {
	v.stop, v.stopped = make(chan struct{}), make(chan struct{})
	t := v.clock.NewTicker(interval)
	go func() {
		defer close(v.stopped)
		defer t.Stop()
		for {
			select {
			case <-t.C():
				v.mu.Lock()
				if !v.closed {
					v.redraw("")
				}
				v.mu.Unlock()
			case <-v.stop:
				return
			}
		}
	}()
}

func (v *liveView) Event(ev pipelinerun.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	i := -1
	for j, t := range v.running {
		if ev.CustomRun != "" && t.ev.CustomRun == ev.CustomRun {
			i = j
		}
	}
	var done string
	switch {
	case ev.State == pipelinerun.StateSucceeded || ev.State == pipelinerun.StateFailed || ev.State == pipelinerun.StateSkipped:
		if i >= 0 {
			v.running = append(v.running[:i], v.running[i+1:]...)
		}
		done = progressLine(ev, time.Millisecond) + "\n"
	case i >= 0:
		v.running[i].ev = ev
	default:
		v.running = append(v.running, &liveTask{ev: ev, start: v.clock.Now().Add(-ev.Elapsed)})
	}
	v.redraw(done)
}

// Write writes log lines above the block.
func (v *liveView) Write(b []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return v.w.Write(b)
	}
	if err := v.redraw(string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close stops the redraws and leaves the last block on screen.
func (v *liveView) Close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.redraw("")
	v.closed = true
	v.mu.Unlock()
	if v.stop != nil {
		close(v.stop)
		<-v.stopped
	}
}

// redraw erases the block, writes above (whole lines) where it was and
// draws the block again below, in one write. v.mu is held.
func (v *liveView) redraw(above string) error {
	width, height := v.size()
	if width <= 0 {
		width = defaultWidth
	}
	if height <= 0 {
		height = defaultHeight
	}
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dF", v.drawn) // to the start of the block's first line
	}
	if v.drawn > 0 || above != "" {
		b.WriteString("\x1b[J") // erase it
	}
	b.WriteString(above)
	now := v.clock.Now()
	lines := len(v.running)
	if lines > height-1 { // one line is left for the cursor
		lines = max(height-2, 0)
	}
	for _, t := range v.running[:lines] {
		ev := t.ev
		ev.Elapsed = now.Sub(t.start)
		b.WriteString(cut(progressLine(ev, liveRedrawInterval), width-1) + "\n")
	}
	if more := len(v.running) - lines; more > 0 {
		b.WriteString(cut(fmt.Sprintf("… and %d more running", more), width-1) + "\n")
		lines++
	}
	v.drawn = lines
	if b.Len() == 0 {
		return nil
	}
	_, err := io.WriteString(v.w, b.String())
	return err
}

// cut shortens s to at most n runes.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(n, 0)])
}
