// Package table owns the benchmark tables of docs/performance.md and
// docs/performance-cluster.md: the Markdown table both `make bench`
// (test/bench/cmd/benchtable) and `make bench-cluster`
// (test/bench/cmd/bench-cluster) print, and the figures of `go test -bench`
// output that benchtable turns into rows (figures.go).
package table

import "strings"

// Table is a Markdown table; an empty cell prints as "—".
type Table struct {
	Header []string
	// Right marks the columns aligned right (figures); the others have no
	// alignment.
	Right []bool
	Rows  [][]string
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// String renders the table, one line per row, each ending in a newline.
func (t *Table) String() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			if c == "" {
				c = "—"
			}
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	line(t.Header)
	b.WriteString("|")
	for i := range t.Header {
		if i < len(t.Right) && t.Right[i] {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		line(r)
	}
	return b.String()
}
