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
// benchmark is a benchmark's full name without the -GOMAXPROCS suffix
// (BenchmarkInvoke/go-reactor); metric is one of its reported units
// (ns/op, B/op, allocs/op or a custom one such as latency-p50-ms). A
// benchmark run several times (-count) reports its median. ns/op is shown
// in milliseconds and B/op in MiB; a custom metric named NAME-UNIT or
// NAME-UNIT/op (cpu-ms/op, latency-p50-ms, rss-MiB) is shown in UNIT.
// target is "<= N", "< N", ">= N" or "> N" in the unit shown, or "-" for
// none. The optional baseline benchmark reports the
// same metric for the thing compared against (the native controller):
// the table then gains baseline and ratio columns, and a target may be a
// ratio, "<= 1.2x". A figure whose benchmark did not run is shown as
// "not run".
//
// Lines "loadavg-before: ..." and "loadavg-after: ..." in the input (the
// contents of /proc/loadavg, which the Makefile adds) are quoted.
//
// With -doc, the text between the lines <!-- bench:begin --> and
// <!-- bench:end --> of that file is replaced by the table, the machine
// (CPUs and model), the load and the command.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
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
	var rows []row
	for _, f := range rowFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		r, err := parseRows(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		rows = append(rows, r...)
	}
	res, err := parseResults(in)
	if err != nil {
		return err
	}
	table := render(rows, res)
	if _, err := io.WriteString(out, table); err != nil {
		return err
	}
	if doc == "" {
		return nil
	}
	return updateDoc(doc, table+"\n"+environment(res, command))
}

// row is one figure of the table.
type row struct {
	figure, bench, metric string
	target                target
	baseline              string
}

// target is a bound on a figure: op is "<=", "<", ">=" or ">", or "" for
// none; ratio bounds ours/baseline instead of ours.
type target struct {
	op    string
	value float64
	ratio bool
}

func parseRows(s string) ([]row, error) {
	var rows []row
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "|")
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		if len(f) != 4 && len(f) != 5 {
			return nil, fmt.Errorf("line %d: want figure | benchmark | metric | target [| baseline], got %q", i+1, line)
		}
		t, err := parseTarget(f[3])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		r := row{figure: f[0], bench: f[1], metric: f[2], target: t}
		if len(f) == 5 {
			r.baseline = f[4]
		}
		if t.ratio && r.baseline == "" {
			return nil, fmt.Errorf("line %d: a ratio target needs a baseline benchmark", i+1)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

var targetRE = regexp.MustCompile(`^(<=|<|>=|>)\s*([0-9.]+)\s*(x?)$`)

func parseTarget(s string) (target, error) {
	if s == "-" {
		return target{}, nil
	}
	m := targetRE.FindStringSubmatch(s)
	if m == nil {
		return target{}, fmt.Errorf("target %q is not <= N, < N, >= N, > N (N may end in x for a ratio) or -", s)
	}
	v, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return target{}, fmt.Errorf("target %q: %w", s, err)
	}
	return target{op: m[1], value: v, ratio: m[3] == "x"}, nil
}

func (t target) String() string {
	switch {
	case t.op == "":
		return "—"
	case t.ratio:
		return fmt.Sprintf("%s %gx", t.op, t.value)
	}
	return fmt.Sprintf("%s %g", t.op, t.value)
}

func (t target) met(v float64) bool {
	switch t.op {
	case "<=":
		return v <= t.value
	case "<":
		return v < t.value
	case ">=":
		return v >= t.value
	case ">":
		return v > t.value
	}
	return true
}

// results are the values reported by each benchmark, by name (without
// the -GOMAXPROCS suffix) and unit, one per run; and the load lines.
type results struct {
	values            map[string]map[string][]float64
	procs             int // GOMAXPROCS, from the benchmark names
	loadBefore, after string
}

var procsSuffix = regexp.MustCompile(`-(\d+)$`)

func parseResults(in io.Reader) (*results, error) {
	res := &results{values: map[string]map[string][]float64{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "loadavg-before:"):
			res.loadBefore = strings.TrimSpace(strings.TrimPrefix(line, "loadavg-before:"))
		case strings.HasPrefix(line, "loadavg-after:"):
			res.after = strings.TrimSpace(strings.TrimPrefix(line, "loadavg-after:"))
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) < 4 || len(f)%2 != 0 {
				continue // a benchmark's own log line
			}
			name := f[0]
			if m := procsSuffix.FindStringSubmatch(name); m != nil {
				name = strings.TrimSuffix(name, m[0])
				res.procs, _ = strconv.Atoi(m[1])
			}
			if res.values[name] == nil {
				res.values[name] = map[string][]float64{}
			}
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					return nil, fmt.Errorf("%s: value %q of %s: %w", name, f[i], f[i+1], err)
				}
				res.values[name][f[i+1]] = append(res.values[name][f[i+1]], v)
			}
		}
	}
	return res, sc.Err()
}

// value is the median of what bench reported in metric, converted to the
// unit shown, and that unit.
func (r *results) value(bench, metric string) (float64, string, bool) {
	vs := r.values[bench][metric]
	if len(vs) == 0 {
		return 0, "", false
	}
	vs = slices.Sorted(slices.Values(vs))
	v := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		v = (vs[len(vs)/2-1] + v) / 2
	}
	switch {
	case metric == "ns/op":
		return v / 1e6, "ms", true
	case metric == "B/op":
		return v / (1 << 20), "MiB", true
	case strings.Contains(metric, "-"):
		// name-UNIT or name-UNIT/op: cpu-ms/op, latency-p50-ms, rss-MiB
		return v, strings.TrimSuffix(metric[strings.LastIndex(metric, "-")+1:], "/op"), true
	}
	return v, metric, true
}

func render(rows []row, res *results) string {
	withBaseline := slices.ContainsFunc(rows, func(r row) bool { return r.baseline != "" })
	var b strings.Builder
	if withBaseline {
		b.WriteString("| figure | ours | baseline | ratio | target | met |\n|---|---:|---:|---:|---|---|\n")
	} else {
		b.WriteString("| figure | ours | target | met |\n|---|---:|---|---|\n")
	}
	for _, r := range rows {
		ours, unit, ok := res.value(r.bench, r.metric)
		cells := []string{r.figure, "not run"}
		var base, ratio float64
		baseOK := false
		if ok {
			cells[1] = format(ours, unit)
		}
		if withBaseline {
			baseCell, ratioCell := "—", "—"
			if r.baseline != "" {
				var baseUnit string
				base, baseUnit, baseOK = res.value(r.baseline, r.metric)
				baseCell = "not run"
				if baseOK {
					baseCell = format(base, baseUnit)
					if ok && base != 0 {
						ratio = ours / base
						ratioCell = fmt.Sprintf("%.2fx", ratio)
					}
				}
			}
			cells = append(cells, baseCell, ratioCell)
		}
		met := "—"
		switch {
		case r.target.op == "":
		case !ok, r.target.ratio && (!baseOK || base == 0):
			met = "unknown"
		case r.target.ratio:
			met = yesNo(r.target.met(ratio))
		default:
			met = yesNo(r.target.met(ours))
		}
		tcell := r.target.String()
		if r.target.op != "" && !r.target.ratio && ok {
			tcell += " " + unit
		}
		cells = append(cells, tcell, met)
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

// format renders v with three significant digits, and its unit.
func format(v float64, unit string) string {
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if strings.Contains(s, "e") {
		s = strconv.FormatFloat(v, 'f', 0, 64)
	}
	if unit == "allocs/op" {
		return s + " allocs"
	}
	return s + " " + unit
}

// environment describes where and how the figures were measured.
func environment(res *results, command string) string {
	procs := res.procs
	if procs == 0 {
		procs = runtime.NumCPU()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %d CPUs (%s), GOMAXPROCS %d, with `%s`.",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel(), procs, command)
	if res.loadBefore != "" || res.after != "" {
		fmt.Fprintf(&b, " Load average (1, 5, 15 min) before: %s; after: %s.", loadFields(res.loadBefore), loadFields(res.after))
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

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
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
