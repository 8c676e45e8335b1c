package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// openSection is the --only name of the open-loop table.
const openSection = "open"

// openRow is one line of the open-loop table.
type openRow struct {
	path    string
	offered int
	m       measurement
}

// runOpenLoop offers each of cfg.Rates to every relay binary, connected to
// the bench's nats-server and then with its own embedded one, and to the
// nats-server's WebSocket path, 50 agents on their own schedules.
func runOpenLoop(ctx context.Context, e *Env) ([]Table, error) {
	var rows []openRow
	for _, rate := range e.cfg.Rates {
		for _, embedded := range []bool{false, true} {
			for _, b := range e.cfg.Relays {
				name := "relay ws"
				if embedded {
					name += ", embedded nats"
				}
				if len(e.cfg.Relays) > 1 {
					name += " (" + b.Label + ")"
				}
				r, err := e.openLoop(ctx, name, rate, &b, embedded)
				if err != nil {
					return nil, err
				}
				rows = append(rows, r)
			}
		}
		r, err := e.openLoop(ctx, "nats-server ws", rate, nil, false)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return []Table{openTable(rows, e.cfg.OpenDuration, e.cfg.Grace)}, nil
}

// openLoop offers rate events/s over 50 agents to a fresh relay running
// bin (with its own embedded nats-server when embedded is set), or to the
// nats-server's WebSocket listener when bin is nil.
func (e *Env) openLoop(ctx context.Context, name string, rate int, bin *Binary, embedded bool) (openRow, error) {
	e.progressf("[open loop] %s at %d events/s", name, rate)
	if err := e.nats.resetStream(ctx); err != nil {
		return openRow{}, err
	}
	tag, clock := e.newTag(), newCreationClock()
	interval := time.Duration(float64(time.Second) * agents / float64(rate))
	pids := []int{e.nats.child.pid()}
	var dial func(ctx context.Context, i int) (agent, error)
	if bin != nil {
		rp, err := e.startRelay(ctx, *bin, embedded)
		if err != nil {
			return openRow{}, err
		}
		defer e.stopRelay(rp)
		pids = append(pids, rp.child.pid())
		dial = func(ctx context.Context, i int) (agent, error) {
			conn, err := dialRelay(ctx, rp.ws, tag+"-s"+strconv.Itoa(i), 4096)
			if err != nil {
				return nil, err
			}
			return &wsAgent{conn: conn, gen: newGenerator(tag, i, false, clock), window: openCap,
				interval: interval, phase: interval * time.Duration(i) / agents}, nil
		}
	} else {
		dial = func(ctx context.Context, i int) (agent, error) {
			return newNATSAsyncAgent(e.nats.wsURL, newGenerator(tag, i, false, clock), openCap,
				interval, interval*time.Duration(i)/agents)
		}
	}
	ag, err := connectAll(ctx, agents, dial)
	if err != nil {
		return openRow{}, fmt.Errorf("open loop %s: %w", name, err)
	}
	defer closeAll(ag)
	m, err := e.drive(ctx, ag, e.cfg.Warmup, e.cfg.OpenDuration, e.cfg.Grace, pids...)
	if err != nil {
		return openRow{}, fmt.Errorf("open loop %s: %w", name, err)
	}
	e.progressf("%s at %d/s: %d of %d acked, p99 %.2f ms, %d errors, %d cap hits; the bench's clients used %.1f µs/ev",
		name, rate, m.acked, m.sent, m.lat.p99, m.errors, m.capHits, m.benchCPU())
	return openRow{path: name, offered: rate, m: m}, nil
}

// openTable renders the open-loop rows.
func openTable(rows []openRow, duration, grace time.Duration) Table {
	within := "all acked within " + grace.String()
	t := Table{
		Title:   "Open loop",
		Columns: []string{"path", "offered/s", "acked/s", within, "p50 ms", "p99 ms", "p999 ms", "cap hits", "errors"},
	}
	for _, r := range rows {
		all := fmt.Sprintf("yes (%d/%d)", r.m.acked, r.m.sent)
		if r.m.acked < r.m.sent || r.m.sent == 0 {
			all = fmt.Sprintf("no (%d/%d)", r.m.acked, r.m.sent)
		}
		label := fmt.Sprintf("%s at %d/s", r.path, r.offered)
		t.Rows = append(t.Rows, []string{
			r.path, strconv.Itoa(r.offered), fmtCount(float64(r.m.inTime) / duration.Seconds()), all,
			fmtMs(r.m.lat.p50), fmtMs(r.m.lat.p99), fmtMs(r.m.lat.p999),
			strconv.Itoa(r.m.capHits), fmtErrors(r.m.errors, r.m.firstErr, &t.Notes, label),
		})
	}
	t.Notes = append(t.Notes, fmt.Sprintf("%d agents, each on its own schedule (rate/%d each), "+
		"latency from the scheduled send time; acked/s counts the acks within the %s; "+
		"an agent waits (a cap hit) only with %d events outstanding. "+
		"Events unanswered when the grace ends are not errors: they show in the acked count.", agents, agents, duration, openCap))
	return t
}
