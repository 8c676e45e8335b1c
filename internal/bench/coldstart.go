package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

// coldSection is the --only name of the cold-start table.
const coldSection = "cold"

// runColdStart times `relay serve` with its embedded NATS server on an empty
// data directory, from exec to the first 200 from /readyz.
func runColdStart(ctx context.Context, e *Env) ([]Table, error) {
	t := Table{
		Title:   "Cold start (embedded NATS, empty data directory)",
		Columns: []string{"relay", "starts", "median ms", "min ms", "max ms"},
	}
	for _, b := range e.cfg.Relays {
		var ms []float64
		for i := range e.cfg.ColdStarts {
			e.progressf("[cold start] %s: %d of %d", b.Label, i+1, e.cfg.ColdStarts)
			d, err := e.coldStart(ctx, b)
			if err != nil {
				return nil, err
			}
			ms = append(ms, float64(d.Microseconds())/1e3)
		}
		t.Rows = append(t.Rows, []string{
			b.Label, strconv.Itoa(len(ms)), fmtFloat(median(ms), 1),
			fmtFloat(slices.Min(ms), 1), fmtFloat(slices.Max(ms), 1),
		})
	}
	t.Notes = append(t.Notes, fmt.Sprintf("/readyz polled every %s; each relay is stopped with SIGTERM before the next start.", coldPoll))
	return []Table{t}, nil
}

// coldStart starts one relay with the embedded NATS server and a new empty
// data directory and returns the time to its first ready answer.
func (e *Env) coldStart(ctx context.Context, b Binary) (time.Duration, error) {
	dir, err := os.MkdirTemp(e.tmp, "cold-")
	if err != nil {
		return 0, fmt.Errorf("make a cold-start data directory: %w", err)
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"serve", "--addr", addr, "--nats-listen", "127.0.0.1:0", "--data-dir", dir,
		"--demo", "off", "--log-level", "warn"}
	args = append(args, e.cfg.RelayArgs...)
	start := time.Now()
	c, err := e.kids.start("relay "+b.Label, b.Path, args, nil)
	if err != nil {
		return 0, err
	}
	err = waitReady(ctx, "http://"+addr+"/readyz", coldPoll, c)
	elapsed := time.Since(start)
	e.stopRelay(&relayProc{child: c})
	if err != nil {
		return 0, fmt.Errorf("cold start of relay %s: %w", b.Label, err)
	}
	return elapsed, nil
}
