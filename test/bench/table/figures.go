package table

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// Row is one figure of a benchmark table, as a line of a rows file:
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
// none. The optional baseline benchmark reports the same metric for the
// thing compared against (the native controller): the table then gains
// baseline and ratio columns, and a target may be a ratio, "<= 1.2x". A
// figure whose benchmark did not run is shown as "not run".
type Row struct {
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

// ParseRows reads a rows file; blank lines and lines starting with # are
// skipped.
func ParseRows(s string) ([]Row, error) {
	var rows []Row
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
		r := Row{figure: f[0], bench: f[1], metric: f[2], target: t}
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

// String is the target's cell; none is empty.
func (t target) String() string {
	switch {
	case t.op == "":
		return ""
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

// Results are the values `go test -bench` output reported for each
// benchmark, by name (without "Benchmark"'s -GOMAXPROCS suffix) and unit,
// one per run; and the lines "loadavg-before: ..." and "loadavg-after:
// ..." (the contents of /proc/loadavg, which the Makefile adds around it).
type Results struct {
	values map[string]map[string][]float64
	// Procs is GOMAXPROCS, from the benchmark names (0 if none ran).
	Procs                 int
	LoadBefore, LoadAfter string
}

// ParseResults reads `go test -bench` output with its load lines. Lines
// that start with "Benchmark" but are no result (a benchmark's name
// printed alone, a log line) are skipped.
func ParseResults(in io.Reader) (*Results, error) {
	text, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	res := &Results{values: map[string]map[string][]float64{}}
	r := benchfmt.NewReader(bytes.NewReader(text), "go test -bench output")
	for r.Scan() {
		result, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		base, parts := result.Name.Parts()
		if n := len(parts); n > 0 && strings.HasPrefix(string(parts[n-1]), "-") {
			res.Procs, _ = strconv.Atoi(string(parts[n-1][1:]))
			parts = parts[:n-1]
		}
		name := "Benchmark" + string(base) + string(bytes.Join(parts, nil))
		if res.values[name] == nil {
			res.values[name] = map[string][]float64{}
		}
		for _, v := range result.Values {
			// The unit as printed: benchfmt converts some (ns/op to sec/op).
			value, unit := v.Value, v.Unit
			if v.OrigUnit != "" {
				value, unit = v.OrigValue, v.OrigUnit
			}
			res.values[name][unit] = append(res.values[name][unit], value)
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	// The load lines are the Makefile's, not go test's: benchfmt keeps
	// them as configuration only for the results that follow them, and
	// none follows loadavg-after.
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, "loadavg-before:"); ok {
			res.LoadBefore = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "loadavg-after:"); ok {
			res.LoadAfter = strings.TrimSpace(v)
		}
	}
	return res, nil
}

// value is the median of what bench reported in metric, converted to the
// unit shown, and that unit.
func (r *Results) value(bench, metric string) (float64, string, bool) {
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

// Figures is the table of rows' figures from res: figure | ours | target |
// met, with baseline and ratio columns after ours if a row has a baseline.
func Figures(rows []Row, res *Results) *Table {
	withBaseline := slices.ContainsFunc(rows, func(r Row) bool { return r.baseline != "" })
	t := &Table{Header: []string{"figure", "ours", "target", "met"}, Right: []bool{false, true}}
	if withBaseline {
		t.Header = []string{"figure", "ours", "baseline", "ratio", "target", "met"}
		t.Right = []bool{false, true, true, true}
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
			var baseCell, ratioCell string
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
		var met string
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
		t.Add(append(cells, tcell, met)...)
	}
	return t
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
