package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Table is one Markdown table of the report: a title, a header, rows of
// cells and notes printed under it. The first column is aligned left, the
// others (figures) right.
type Table struct {
	Title   string
	Columns []string
	Rows    [][]string
	Notes   []string
}

// Markdown writes t as a Markdown section: a level-3 heading, the table with
// its columns padded to line up in a terminal, then the notes, one
// paragraph each.
func (t Table) Markdown(w io.Writer) error {
	width := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		width[i] = max(utf8.RuneCountInString(c), 3)
	}
	rows := make([][]string, len(t.Rows))
	for r, row := range t.Rows {
		rows[r] = make([]string, len(t.Columns))
		for i := range t.Columns {
			if i < len(row) {
				rows[r][i] = strings.ReplaceAll(row[i], "|", `\|`)
			}
			width[i] = max(width[i], utf8.RuneCountInString(rows[r][i]))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", t.Title)
	writeRow(&b, t.Columns, width)
	b.WriteString("|")
	for i, n := range width {
		if i == 0 {
			b.WriteString(" " + strings.Repeat("-", n) + " |")
		} else {
			b.WriteString(" " + strings.Repeat("-", n-1) + ": |")
		}
	}
	b.WriteString("\n")
	for _, row := range rows {
		writeRow(&b, row, width)
	}
	b.WriteString("\n")
	for _, n := range t.Notes {
		b.WriteString(n + "\n\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRow writes one table row with its cells padded to width.
func writeRow(b *strings.Builder, cells []string, width []int) {
	b.WriteString("|")
	for i, c := range cells {
		pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
		if i == 0 {
			b.WriteString(" " + c + pad + " |")
		} else {
			b.WriteString(" " + pad + c + " |")
		}
	}
	b.WriteString("\n")
}

// fmtFloat formats x with prec decimals, "-" for NaN.
func fmtFloat(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}

// fmtCount formats an event count or rate, without decimals.
func fmtCount(x float64) string { return fmtFloat(math.Round(x), 0) }

// fmtMs formats a latency in milliseconds.
func fmtMs(x float64) string {
	if x >= 100 {
		return fmtFloat(x, 0)
	}
	if x >= 10 {
		return fmtFloat(x, 1)
	}
	return fmtFloat(x, 2)
}

// fmtErrors formats an error count, with its first reason in a note.
func fmtErrors(n int, first string, notes *[]string, row string) string {
	if n == 0 {
		return "0"
	}
	*notes = append(*notes, fmt.Sprintf("Errors of %q: %d, the first: %s.", row, n, first))
	return strconv.Itoa(n)
}
