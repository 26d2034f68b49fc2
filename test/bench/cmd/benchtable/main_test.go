package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const benchOutput = `loadavg-before: 0.52 0.80 1.10 1/234 5678
goos: linux
BenchmarkInvoke/c-2            	   20000	     53202 ns/op	         0.3439 cpu-ms/op	         0.4 latency-p50-ms	  3.375 rss-MiB
PASS
loadavg-after: 1.50 1.00 1.20 1/234 5678
`

func TestUpdateDoc(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "perf.md")
	if err := os.WriteFile(doc, []byte("# Perf\n\nintro\n<!-- bench:begin -->\nold\n<!-- bench:end -->\n\nanalysis\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rows := filepath.Join(dir, "rows")
	if err := os.WriteFile(rows, []byte("C call p50 | BenchmarkInvoke/c | latency-p50-ms | <= 0.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run([]string{rows}, doc, "make bench", strings.NewReader(benchOutput), &out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, part := range []string{
		"# Perf\n\nintro\n<!-- bench:begin -->\n| figure | ours | target | met |\n",
		"| C call p50 | 0.4 ms | <= 0.3 ms | **no** |\n\nMeasured ",
		" CPUs (", "GOMAXPROCS 2, with `make bench`. Load average (1, 5, 15 min) before: 0.52, 0.80, 1.10; after: 1.50, 1.00, 1.20.\n<!-- bench:end -->\n\nanalysis\n",
	} {
		if !strings.Contains(got, part) {
			t.Errorf("doc does not contain %q:\n%s", part, got)
		}
	}
	if out.String() != "| figure | ours | target | met |\n|---|---:|---|---|\n| C call p50 | 0.4 ms | <= 0.3 ms | **no** |\n" {
		t.Errorf("stdout %q", out.String())
	}
	if err := os.WriteFile(doc, []byte("no markers"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{rows}, doc, "make bench", strings.NewReader(benchOutput), &out); err == nil || !strings.Contains(err.Error(), "has no <!-- bench:begin -->") {
		t.Errorf("run on a doc without markers: %v", err)
	}
}
