// Command benchtable turns `go test -bench` output into the table of
// figures and targets that `make bench` prints and writes into
// docs/performance.md.
//
// Usage:
//
//	go test -run '^$' -bench . ./... | benchtable -rows FILE [-rows FILE...] [-doc FILE] [-command CMD]
//
// Each rows file lists the figures to report, one per line, fields
// separated by "|" (blank lines and lines starting with # are skipped):
//
//	figure | benchmark | metric | target | baseline benchmark
//
// (test/bench/table.Row says what each field means). The input is parsed
// with golang.org/x/perf/benchfmt.
//
// Lines "loadavg-before: ..." and "loadavg-after: ..." in the input (the
// contents of /proc/loadavg, which the Makefile adds) are quoted.
//
// With -doc, the text between the lines <!-- bench:begin --> and
// <!-- bench:end --> of that file is replaced by the table, the machine
// (CPUs and model), the load and the command.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/procfs"

	"github.com/tekton-wasm/tekton-wasm/test/bench/table"
)

func main() {
	var rowFiles multiFlag
	flag.Var(&rowFiles, "rows", "a rows file (repeatable)")
	doc := flag.String("doc", "", "a Markdown file whose bench:begin/bench:end block to replace")
	command := flag.String("command", "make bench", "the command quoted in -doc")
	flag.Parse()
	if len(rowFiles) == 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go test -bench ... | benchtable -rows FILE [-rows FILE...] [-doc FILE] [-command CMD]")
		os.Exit(2)
	}
	if err := run(rowFiles, *doc, *command, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func run(rowFiles []string, doc, command string, in io.Reader, out io.Writer) error {
	var rows []table.Row
	for _, f := range rowFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		r, err := table.ParseRows(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		rows = append(rows, r...)
	}
	res, err := table.ParseResults(in)
	if err != nil {
		return err
	}
	figures := table.Figures(rows, res).String()
	if _, err := io.WriteString(out, figures); err != nil {
		return err
	}
	if doc == "" {
		return nil
	}
	return updateDoc(doc, figures+"\n"+environment(res, command))
}

// environment describes where and how the figures were measured.
func environment(res *table.Results, command string) string {
	procs := res.Procs
	if procs == 0 {
		procs = runtime.NumCPU()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %d CPUs (%s), GOMAXPROCS %d, with `%s`.",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel(), procs, command)
	if res.LoadBefore != "" || res.LoadAfter != "" {
		fmt.Fprintf(&b, " Load average (1, 5, 15 min) before: %s; after: %s.", loadFields(res.LoadBefore), loadFields(res.LoadAfter))
	}
	b.WriteString("\n")
	return b.String()
}

// loadFields keeps the three load averages of a /proc/loadavg line.
func loadFields(s string) string {
	f := strings.Fields(s)
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// cpuModel is the model name of the first CPU in /proc/cpuinfo.
func cpuModel() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return "unknown CPU"
	}
	cpus, err := fs.CPUInfo()
	if err != nil || len(cpus) == 0 || cpus[0].ModelName == "" {
		return "unknown CPU"
	}
	return cpus[0].ModelName
}

const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

// updateDoc replaces the text between the markers of the file at path.
func updateDoc(path, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	begin := bytes.Index(b, []byte(beginMarker))
	end := bytes.Index(b, []byte(endMarker))
	if begin < 0 || end < begin {
		return errors.New(path + " has no " + beginMarker + " ... " + endMarker + " block to replace")
	}
	var out bytes.Buffer
	out.Write(b[:begin+len(beginMarker)])
	out.WriteString("\n" + text)
	out.Write(b[end:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}
