package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// mainSection is the --only name of the main table.
const mainSection = "main"

// row is one line of the main table.
type row struct {
	name     string
	acked    float64
	rate     float64 // acked events per second
	lat      latency
	relayCPU float64 // µs per event; NaN for the direct paths
	natsCPU  float64 // µs per event
	relayRSS float64 // MiB at the end; NaN for the direct paths
	// relayAllocs is the relay's heap allocations per acked event, from its
	// go_memstats_mallocs_total; NaN for the direct paths.
	relayAllocs float64
	errors      int
	firstErr    string
}

// newRow makes the row of a direct path from m (pids: the nats-server
// first); runScenario fills in the relay's figures.
func newRow(name string, m measurement) row {
	return row{
		name: name, acked: float64(m.acked), rate: m.rate(), lat: m.lat,
		relayCPU: math.NaN(), natsCPU: m.perEvent(0), relayRSS: math.NaN(), relayAllocs: math.NaN(),
		errors: m.errors, firstErr: m.firstErr,
	}
}

// cpuSum is the CPU of the relay and the nats-server per event.
func (r row) cpuSum() float64 {
	if math.IsNaN(r.relayCPU) {
		return r.natsCPU
	}
	return r.relayCPU + r.natsCPU
}

// runMain measures the main table cfg.Runs times; with more than one run it
// adds the table of the medians.
func runMain(ctx context.Context, e *Env) ([]Table, error) {
	var runs [][]row
	var tables []Table
	for run := 1; run <= e.cfg.Runs; run++ {
		var rows []row
		for _, s := range scenarios() {
			if !e.cfg.scenarioSelected(s.short) {
				continue
			}
			bins := e.cfg.Relays
			if !s.relay {
				bins = bins[:1]
			}
			for _, b := range bins {
				e.progressf("[main, run %d/%d] %s", run, e.cfg.Runs, s.name)
				r, err := e.runScenario(ctx, s, b)
				if err != nil {
					if len(rows) > 0 {
						tables = append(tables, mainTable(fmt.Sprintf("Main table, run %d (incomplete)", run), rows))
					}
					return tables, err
				}
				rows = append(rows, r)
			}
		}
		runs = append(runs, rows)
		title := "Main table"
		if e.cfg.Runs > 1 {
			title += fmt.Sprintf(", run %d of %d", run, e.cfg.Runs)
		}
		tables = append(tables, mainTable(title, rows))
	}
	if e.cfg.Runs > 1 {
		tables = append(tables, mainTable(fmt.Sprintf("Main table, medians of %d runs", e.cfg.Runs), medianRows(runs)))
	}
	return tables, nil
}

// mainTable renders rows; the ratio column divides each row's CPU per event
// by the nats-server's CPU per event in the nats-server ws row.
func mainTable(title string, rows []row) Table {
	base := math.NaN()
	for _, r := range rows {
		if r.name == natsWSName {
			base = r.natsCPU
		}
	}
	t := Table{
		Title: title,
		Columns: []string{"scenario", "acked", "events/s", "p50 ms", "p99 ms", "p999 ms",
			"relay µs/ev", "nats µs/ev", "sum µs/ev", "sum / nats ws", "relay allocs/ev", "relay RSS MiB", "errors"},
	}
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{
			r.name, fmtCount(r.acked), fmtCount(r.rate),
			fmtMs(r.lat.p50), fmtMs(r.lat.p99), fmtMs(r.lat.p999),
			fmtFloat(r.relayCPU, 1), fmtFloat(r.natsCPU, 1), fmtFloat(r.cpuSum(), 1),
			ratio(r.cpuSum(), base), fmtFloat(r.relayAllocs, 0), fmtFloat(r.relayRSS, 1),
			fmtErrors(r.errors, r.firstErr, &t.Notes, r.name),
		})
		if r.acked == 0 && r.errors == 0 {
			t.Notes = append(t.Notes, fmt.Sprintf("%q: no event was sent and acked within the measured time; lengthen --duration.", r.name))
		}
	}
	t.Notes = append(t.Notes,
		"CPU is per acked event, from the end of the warm-up to the last answer; "+
			"\"sum / nats ws\" divides the sum by the nats-server's CPU per event in the \""+natsWSName+"\" row.")
	return t
}

// ratio formats a/b as "1.23x", "-" when it is unknown.
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b <= 0 {
		return "-"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "x"
}

// medianRows combines the runs' rows by name: the median of each figure,
// the sum of the errors, so that no run's errors are hidden.
func medianRows(runs [][]row) []row {
	var names []string
	byName := map[string][]row{}
	for _, rows := range runs {
		for _, r := range rows {
			if !slices.Contains(names, r.name) {
				names = append(names, r.name)
			}
			byName[r.name] = append(byName[r.name], r)
		}
	}
	out := make([]row, 0, len(names))
	for _, name := range names {
		rs := byName[name]
		pick := func(f func(row) float64) float64 {
			xs := make([]float64, len(rs))
			for i, r := range rs {
				xs[i] = f(r)
			}
			return median(xs)
		}
		m := row{
			name:        name,
			acked:       pick(func(r row) float64 { return r.acked }),
			rate:        pick(func(r row) float64 { return r.rate }),
			relayCPU:    pick(func(r row) float64 { return r.relayCPU }),
			natsCPU:     pick(func(r row) float64 { return r.natsCPU }),
			relayRSS:    pick(func(r row) float64 { return r.relayRSS }),
			relayAllocs: pick(func(r row) float64 { return r.relayAllocs }),
			lat: latency{
				p50:  pick(func(r row) float64 { return r.lat.p50 }),
				p99:  pick(func(r row) float64 { return r.lat.p99 }),
				p999: pick(func(r row) float64 { return r.lat.p999 }),
			},
		}
		for _, r := range rs {
			m.errors += r.errors
			if m.firstErr == "" {
				m.firstErr = r.firstErr
			}
		}
		out = append(out, m)
	}
	return out
}
