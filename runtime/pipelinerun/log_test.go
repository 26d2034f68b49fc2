package pipelinerun

import (
	"bytes"
	"sync"
	"testing"
)

// Two tasks writing parts of lines at once: each line comes out whole,
// prefixed with its task; an unfinished last line is ended by flush.
func TestLineWriter(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	a := &lineWriter{mu: &mu, w: &out, prefix: "a: "}
	b := &lineWriter{mu: &mu, w: &out, prefix: "b: "}
	a.Write([]byte("one "))
	b.Write([]byte("x\ny"))
	a.Write([]byte("two\nthree\n"))
	b.Write([]byte("z"))
	b.flush()
	a.flush()
	if got, want := out.String(), "b: x\na: one two\na: three\nb: yz\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
