package bench

import (
	"flag"
	"math"
	"os"
	"strings"
	"testing"
)

// update rewrites the golden files: go test ./internal/bench -run Markdown -update
var update = flag.Bool("update", false, "rewrite the golden files")

func TestTableMarkdown(t *testing.T) {
	tab := Table{
		Title:   "Example",
		Columns: []string{"scenario", "events/s", "µs/ev"},
		Rows: [][]string{
			{"relay ws, 1 in flight x 50", "12345", "81.2"},
			{"a|b", "7", "-"},
			{"short"}, // missing cells are empty
		},
		Notes: []string{"A note."},
	}
	var b strings.Builder
	if err := tab.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "testdata/table.golden.md", b.String())
}

// The main table divides by the nats-server ws row and lists errors.
func TestMainTable(t *testing.T) {
	nan := math.NaN()
	rows := []row{
		{name: "nats async (limit)", acked: 1000, rate: 200, lat: latency{1, 2, 3}, relayCPU: nan, natsCPU: 10, relayRSS: nan, relayAllocs: nan},
		{name: natsWSName, acked: 500, rate: 100, lat: latency{0.5, 1.5, 12.25}, relayCPU: nan, natsCPU: 20, relayRSS: nan, relayAllocs: nan},
		{name: "relay ws, 1 in flight x 50", acked: 400, rate: 80, lat: latency{0.81, 2, 150}, relayCPU: 60, natsCPU: 25, relayRSS: 31.04, relayAllocs: 27.4,
			errors: 2, firstErr: "nack sink_unavailable: try again"},
	}
	var b strings.Builder
	if err := mainTable("Main table", rows).Markdown(&b); err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "testdata/main.golden.md", b.String())
}

// Medians are taken figure by figure; errors add up.
func TestMedianRows(t *testing.T) {
	run := func(rate float64, errs int) []row {
		return []row{{name: "x", acked: rate * 5, rate: rate, relayCPU: rate / 10, natsCPU: 1, relayRSS: math.NaN(), relayAllocs: math.NaN(), errors: errs, firstErr: "e"}}
	}
	got := medianRows([][]row{run(100, 0), run(300, 1), run(200, 2)})
	if len(got) != 1 || got[0].rate != 200 || got[0].acked != 1000 || got[0].relayCPU != 20 || got[0].errors != 3 || !math.IsNaN(got[0].relayRSS) {
		t.Errorf("got %+v", got)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtMs(0.1234), "0.12"},
		{fmtMs(12.345), "12.3"},
		{fmtMs(123.4), "123"},
		{fmtMs(math.NaN()), "-"},
		{fmtCount(1234.6), "1235"},
		{ratio(30, 20), "1.50x"},
		{ratio(30, math.NaN()), "-"},
		{ratio(30, 0), "-"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// compareGolden compares got with the golden file, or rewrites it with -update.
func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run with -update to create it): %v", path, err)
	}
	if got != string(want) {
		t.Errorf("got:\n%s\nwant (%s):\n%s", got, path, want)
	}
}
