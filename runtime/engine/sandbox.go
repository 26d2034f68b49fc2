package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/sandboxfs"
)

// sandbox is the host side of one instance and its one invocation: the
// request on stdin, what the plugin writes, and the first limit it broke.
// An instance's stdio and sleep are bound to its sandbox when it is
// created, and the sandbox to a call when the call starts (bind), so that
// an instance prepared ahead of demand serves the call it is handed to.
// One goroutine at a time touches a sandbox (wazero calls the guest's
// host functions on the goroutine that runs the guest; a prepared
// instance is handed over through a channel), so it needs no locking.
// Sandboxes are pooled.
type sandbox struct {
	stdin  bytes.Buffer
	stdout bytes.Buffer

	ctx     context.Context    // ends the guest's sleep: the call's context, or the preparation's
	stop    context.CancelFunc // stops the instance: cancels ctx
	broken  string             // the host reason of the first limit broken
	logSink io.Writer          // Invocation.Log
	log     logScanner
	budget  *sandboxfs.Budget // of the call's mounts; nil without mounts
}

func (s *sandbox) reset() {
	s.stdin.Reset()
	s.stdout.Reset()
	s.ctx, s.stop, s.broken, s.logSink, s.budget = nil, nil, "", nil, nil
	s.log.reset()
}

// bind hands s to a call: ctx is the call's context and stop cancels it.
// What the instance logged while it was prepared, before any call (at
// most the last 2 KiB), is passed on to log first.
func (s *sandbox) bind(ctx context.Context, stop context.CancelFunc, log io.Writer) {
	s.ctx, s.stop, s.logSink = ctx, stop, log
	if log != nil && len(s.log.buf) > 0 {
		_, _ = log.Write(s.log.buf)
	}
}

// sleep is the guest's sleep (poll_oneoff with a clock): it returns after
// ns or as soon as s.ctx ends, whichever is first. wazero's
// close-on-context-done only stops guest code, not a host call, so a
// plain time.Sleep would hold a cancelled plugin until it expired.
func (s *sandbox) sleep(ns int64) {
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
	}
}

// stdinReader is the plugin's stdin: the request, once bound.
type stdinReader sandbox

func (r *stdinReader) Read(p []byte) (int, error) { return r.stdin.Read(p) }

// errLimit is what a write past a limit returns to the guest (as EIO)
// while the instance is being stopped.
var errLimit = errors.New("output limit exceeded")

// breakLimit records the first limit broken and stops the instance: the
// write fails, and wazero ends the guest at its next function call or
// loop iteration.
func (s *sandbox) breakLimit(reason string) (int, error) {
	if s.broken == "" {
		s.broken = reason
	}
	s.stop()
	return 0, errLimit
}

// stdoutWriter is the plugin's stdout: kept up to MaxResponseBytes.
type stdoutWriter sandbox

func (w *stdoutWriter) Write(p []byte) (int, error) {
	s := (*sandbox)(w)
	if s.broken != "" || s.stdout.Len()+len(p) > hostabi.MaxResponseBytes {
		return s.breakLimit(hostabi.ReasonOutputTooLarge)
	}
	return s.stdout.Write(p)
}

// stderrWriter is the plugin's log: passed on to Invocation.Log, scanned,
// and its tail kept, up to MaxLogBytes in all.
type stderrWriter sandbox

func (w *stderrWriter) Write(p []byte) (int, error) {
	s := (*sandbox)(w)
	if s.broken != "" || s.log.total+len(p) > hostabi.MaxLogBytes {
		return s.breakLimit(hostabi.ReasonLogTooLarge)
	}
	if s.logSink != nil {
		_, _ = s.logSink.Write(p) // a failing sink is the caller's problem, not the plugin's
	}
	s.log.Write(p)
	return len(p), nil
}

// outcome classifies how the instance ended. ctx is the caller's context;
// err is what calling _start returned.
func (s *sandbox) outcome(ctx context.Context, mod api.Module, err error) (*hostabi.Response, error) {
	s.noteRefusals()
	if s.broken != "" {
		return failure(s.broken, s.brokenMessage()), nil
	}
	var exit *sys.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code := exit.ExitCode()
		if code == sys.ExitCodeContextCanceled || code == sys.ExitCodeDeadlineExceeded {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
		}
		if code == 0 {
			break
		}
		if code == 2 && s.log.goOutOfMemory {
			return failure(hostabi.ReasonOutOfMemory, s.withLog(fmt.Sprintf("the plugin ran out of memory (limit %s)", memoryLimit(mod)))), nil
		}
		return failure(hostabi.ReasonExited, s.withLog(fmt.Sprintf("the plugin exited with code %d", code))), nil
	default:
		// Anything else is a trap: wazero reports guest faults as errors:
		// "wasm error: <what>\nwasm stack trace:\n...". The log goes
		// before the trace, so that a long trace is what gets truncated.
		what, trace, _ := strings.Cut(err.Error(), "\n")
		reason, msg := hostabi.ReasonTrapped, "the plugin trapped: "+what
		switch {
		case callDepthExceeded(mod):
			msg = fmt.Sprintf("the plugin trapped: stack overflow: its calls nested deeper than the host allows (%d)", MaxCallDepth)
		case s.log.allocFailed || memoryExhausted(mod):
			reason, msg = hostabi.ReasonOutOfMemory, fmt.Sprintf("the plugin ran out of memory (limit %s) and trapped: %s", memoryLimit(mod), what)
		}
		if msg = s.withLog(msg); trace != "" {
			msg += "\n" + foldWrapperFrames(trace)
		}
		return failure(reason, msg), nil
	}

	resp, err := hostabi.ParseResponse(s.stdout.Bytes())
	var limit *hostabi.LimitError
	switch {
	case errors.As(err, &limit):
		return failure(hostabi.ReasonResultsTooLarge, fmt.Sprintf("the plugin's response breaks a limit: %v", err)), nil
	case err != nil:
		return failure(hostabi.ReasonInvalidResponse, s.withLog(fmt.Sprintf("the plugin wrote an invalid response: %v", err))), nil
	}
	return resp, nil
}

// noteRefusals adds to the plugin's log which workspace limits the plugin
// ran into: the guest only saw EIO (sandboxfs.ErrnoLimit), and the log is
// where its author looks, and what a failure message quotes.
func (s *sandbox) noteRefusals() {
	if s.budget == nil {
		return
	}
	openFiles, write := s.budget.Refused()
	if openFiles {
		s.hostLog(fmt.Sprintf("tekton-wasm: the plugin was refused a file: it may hold at most %d files open at once (it got EIO)", s.budget.MaxOpenFiles()))
	}
	if write {
		s.hostLog(fmt.Sprintf("tekton-wasm: the plugin was refused a write: it may add at most %s to its workspaces (it got EIO)", formatBytes(uint64(s.budget.MaxWriteBytes()))))
	}
}

// hostLog adds a line of the host's to the plugin's log, passed on like
// the plugin's own and outside its limit.
func (s *sandbox) hostLog(line string) {
	p := []byte(line + "\n")
	if s.logSink != nil {
		_, _ = s.logSink.Write(p)
	}
	s.log.Write(p)
}

func (s *sandbox) brokenMessage() string {
	if s.broken == hostabi.ReasonOutputTooLarge {
		return s.withLog(fmt.Sprintf("the plugin wrote more than %s to stdout", formatBytes(hostabi.MaxResponseBytes)))
	}
	return s.withLog(fmt.Sprintf("the plugin wrote more than %s to stderr", formatBytes(hostabi.MaxLogBytes)))
}

// failure is a host failure Response; its message is cut to the ABI's
// limit.
func failure(reason, msg string) *hostabi.Response {
	r := &hostabi.Response{Status: hostabi.StatusFailed, Reason: reason, Message: msg}
	_ = r.Validate() // truncates the message; a host failure is otherwise valid
	return r
}

// withLog appends the end of the plugin's log to msg.
func (s *sandbox) withLog(msg string) string {
	tail := s.log.tailText()
	if tail == "" {
		return msg + " (its log is empty)"
	}
	return msg + "; log:\n" + tail
}

// foldWrapperFrames shows each call of a wazero stack trace once: a call
// of a function of the plugin is two frames of the same name, its body's
// and its wrapper's (see prepareModule).
func foldWrapperFrames(trace string) string {
	lines := strings.Split(trace, "\n")
	out := lines[:0]
	for i := 0; i < len(lines); i++ {
		out = append(out, lines[i])
		if i+1 < len(lines) && lines[i+1] == lines[i] {
			i++
		}
	}
	return strings.Join(out, "\n")
}

// callDepthExceeded reports whether mod trapped because its calls nested
// deeper than MaxCallDepth (see prepareModule): its call-depth counter
// is then above it, as the trap left it.
func callDepthExceeded(mod api.Module) bool {
	g := mod.ExportedGlobal(callDepthExport)
	return g != nil && uint32(g.Get()) > MaxCallDepth
}

// memoryLimit is the most memory mod may have: the engine's limit, or the
// module's own maximum if lower.
func memoryLimit(mod api.Module) string {
	mem := mod.Memory()
	if mem == nil {
		return "none"
	}
	max, _ := mem.Definition().Max()
	return formatBytes(uint64(max) * pageSize)
}

// memoryExhausted reports whether mod's memory grew during the invocation
// to its maximum, so that the next memory.grow must have failed. A module
// that traps then has, in all likelihood, run out of memory.
func memoryExhausted(mod api.Module) bool {
	mem := mod.Memory()
	if mem == nil {
		return false
	}
	def := mem.Definition()
	max, _ := def.Max()
	size := uint64(mem.Size())
	return size > uint64(def.Min())*pageSize && size == uint64(max)*pageSize
}

// logScanner keeps the tail of a plugin's log and watches its lines for
// the ways language runtimes report running out of memory, and for the
// headline of a crash, which a long stack trace may push out of the tail.
type logScanner struct {
	total int
	buf   []byte // the last LogTailBytes..2*LogTailBytes bytes
	line  []byte // the start of the current line, up to maxLine bytes

	headline      string // first "panic: ", "fatal error: " or out-of-memory line
	goOutOfMemory bool   // Go: "fatal error: out of memory" / "runtime: out of memory"
	allocFailed   bool   // Rust: "memory allocation of N bytes failed"
}

const maxLine = 256

func (l *logScanner) reset() {
	l.total = 0
	l.buf, l.line = l.buf[:0], l.line[:0]
	l.headline, l.goOutOfMemory, l.allocFailed = "", false, false
}

func (l *logScanner) Write(p []byte) {
	l.total += len(p)
	if len(p) >= hostabi.LogTailBytes {
		l.buf = append(l.buf[:0], p[len(p)-hostabi.LogTailBytes:]...)
	} else {
		if len(l.buf)+len(p) > 2*hostabi.LogTailBytes {
			l.buf = append(l.buf[:0], l.buf[len(l.buf)-hostabi.LogTailBytes:]...)
		}
		l.buf = append(l.buf, p...)
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxLine - len(l.line); room > 0 {
			l.line = append(l.line, chunk[:min(room, len(chunk))]...)
		}
		if i < 0 {
			return
		}
		l.scanLine(string(l.line))
		l.line = l.line[:0]
		p = p[i+1:]
	}
}

func (l *logScanner) scanLine(line string) {
	oom := false
	switch {
	case line == "fatal error: out of memory" || strings.HasPrefix(line, "runtime: out of memory"):
		l.goOutOfMemory, oom = true, true
	case strings.HasPrefix(line, "memory allocation of ") && strings.HasSuffix(line, " bytes failed"):
		l.allocFailed, oom = true, true
	}
	if l.headline == "" && (oom || strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
		l.headline = line
	}
}

// tailText is the last LogTailBytes of the log as valid UTF-8, preceded by
// the crash headline if the tail no longer holds it.
func (l *logScanner) tailText() string {
	tail := l.buf[max(0, len(l.buf)-hostabi.LogTailBytes):]
	dropped := l.total > len(tail)
	for dropped && len(tail) > 0 && !utf8.RuneStart(tail[0]) {
		tail = tail[1:]
	}
	text := strings.ToValidUTF8(strings.TrimRight(string(tail), "\n"), "\uFFFD")
	if dropped {
		text = "…" + text
		if l.headline != "" && !strings.Contains(text, l.headline) {
			text = l.headline + "\n" + text
		}
	}
	return text
}
