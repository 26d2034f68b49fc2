package pipelinerun

import (
	"bytes"
	"io"
	"sync"
)

// lineWriter writes a task's log to a writer the tasks share, a whole
// line at a time under mu, each line prefixed. It holds at most one
// unfinished line; the local runner ends each invocation's log with a
// newline, so a line never outlives an invocation.
type lineWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	i := bytes.LastIndexByte(l.buf, '\n')
	if i < 0 {
		return len(b), nil
	}
	lines := l.buf[:i+1]
	var out []byte
	for len(lines) > 0 {
		j := bytes.IndexByte(lines, '\n')
		out = append(append(out, l.prefix...), lines[:j+1]...)
		lines = lines[j+1:]
	}
	l.buf = append(l.buf[:0], l.buf[i+1:]...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// flush writes an unfinished last line.
func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.Write([]byte("\n"))
	}
}
