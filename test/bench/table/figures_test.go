package table

import (
	"strings"
	"testing"
)

const benchOutput = `loadavg-before: 0.52 0.80 1.10 1/234 5678
goos: linux
BenchmarkCompile/go/cached-2   	      10	 81234567 ns/op	 20102606 B/op	  102156 allocs/op
BenchmarkInvoke/go-reactor-2   	     979	   1261030 ns/op	        10.23 cpu-ms/op	         0.7 latency-p50-ms
BenchmarkInvoke/go-reactor-2   	     979	   1261030 ns/op	        10.23 cpu-ms/op	         0.9 latency-p50-ms
BenchmarkInvoke/go-reactor-2   	     979	   1261030 ns/op	        10.23 cpu-ms/op	         2.5 latency-p50-ms
BenchmarkInvoke/c-2            	   20000	     53202 ns/op	         0.3439 cpu-ms/op	         0.4 latency-p50-ms	  3.375 rss-MiB
BenchmarkE2E/native-2          	      10	  5000000 ns/op
BenchmarkE2E/slow
BenchmarkE2E/slow-2 waits for the cluster
BenchmarkE2E/ours-2            	      10	  5500000 ns/op
    bench_test.go:12: a log line
PASS
loadavg-after: 1.50 1.00 1.20 1/234 5678
`

func TestRender(t *testing.T) {
	rows, err := ParseRows(`
# figure | benchmark | metric | target
Go ready from cache | BenchmarkCompile/go/cached | ns/op | < 100
Go call p50 | BenchmarkInvoke/go-reactor | latency-p50-ms | <= 2
C call p50 | BenchmarkInvoke/c | latency-p50-ms | <= 0.3
host heap per compile | BenchmarkCompile/go/cached | B/op | -
C CPU | BenchmarkInvoke/c | cpu-ms/op | -
C RSS | BenchmarkInvoke/c | rss-MiB | <= 4
missing | BenchmarkNope | ns/op | <= 1
`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseResults(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := `| figure | ours | target | met |
|---|---:|---|---|
| Go ready from cache | 81.2 ms | < 100 ms | yes |
| Go call p50 | 0.9 ms | <= 2 ms | yes |
| C call p50 | 0.4 ms | <= 0.3 ms | **no** |
| host heap per compile | 19.2 MiB | — | — |
| C CPU | 0.344 ms | — | — |
| C RSS | 3.38 MiB | <= 4 MiB | yes |
| missing | not run | <= 1 | unknown |
`
	if got := Figures(rows, res).String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRenderWithBaseline(t *testing.T) {
	rows, err := ParseRows(`e2e | BenchmarkE2E/ours | ns/op | <= 1.2x | BenchmarkE2E/native
Go call p50 | BenchmarkInvoke/go-reactor | latency-p50-ms | <= 2`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseResults(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := `| figure | ours | baseline | ratio | target | met |
|---|---:|---:|---:|---|---|
| e2e | 5.5 ms | 5 ms | 1.10x | <= 1.2x | yes |
| Go call p50 | 0.9 ms | — | — | <= 2 ms | yes |
`
	if got := Figures(rows, res).String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestParseRowsErrors(t *testing.T) {
	for _, tc := range []struct{ rows, want string }{
		{"a | b | c", "line 1: want figure | benchmark | metric | target [| baseline]"},
		{"a | b | c | about 2", `line 1: target "about 2" is not`},
		{"a | b | c | <= 2x", "line 1: a ratio target needs a baseline benchmark"},
	} {
		if _, err := ParseRows(tc.rows); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRows(%q) = %v, want %q", tc.rows, err, tc.want)
		}
	}
}
