package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// relayProc is a relay process the bench started.
type relayProc struct {
	child *child
	http  string // http://127.0.0.1:port
	ws    string // ws://127.0.0.1:port/v1/ws
}

// relayEnv lifts the relay's per-connection event rate limit, which the
// bench's agents exceed on purpose; given through the environment, which a
// relay built before the limit existed ignores, so that every binary of a
// comparison runs with the same arguments.
var relayEnv = []string{"RELAY_RATE_LIMIT=1000000000", "RELAY_RATE_BURST=1000000000"}

// startRelay starts `bin serve` on a free port, connected to the bench's
// nats-server, and waits until /readyz answers 200.
//
// With embedded, the relay runs its own nats-server instead (the default
// deployment on one machine), on a new data directory, with the store synced
// on the bench server's schedule (--nats-sync 2m, the nats-server default)
// so that the two stores do the same work.
func (e *Env) startRelay(ctx context.Context, bin Binary, embedded bool) (*relayProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"serve", "--addr", addr, "--nats-url", e.nats.url,
		"--allow-no-origin", "--demo", "off", "--log-level", "warn"}
	if embedded {
		dir, err := os.MkdirTemp(e.tmp, "relay-data-")
		if err != nil {
			return nil, fmt.Errorf("make a relay data directory: %w", err)
		}
		args = []string{"serve", "--addr", addr, "--nats-listen", "127.0.0.1:0", "--data-dir", dir, "--nats-sync", "2m",
			"--allow-no-origin", "--demo", "off", "--log-level", "warn"}
	}
	args = append(args, e.cfg.RelayArgs...)
	c, err := e.kids.startEnv("relay "+bin.Label, bin.Path, args, relayEnv, nil)
	if err != nil {
		return nil, err
	}
	r := &relayProc{child: c, http: "http://" + addr, ws: "ws://" + addr + "/v1/ws"}
	if err := waitReady(ctx, r.http+"/readyz", readyPoll, c); err != nil {
		_ = c.stop(stopGrace)
		return nil, fmt.Errorf("start relay %s: %w", bin.Label, err)
	}
	return r, nil
}

// startFloor starts the bench's own `bench-floor` server in mode, on a
// free port, connected to the bench's nats-server.
func (e *Env) startFloor(ctx context.Context, mode string) (*relayProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"bench-floor", "--addr", addr, "--nats-url", e.nats.url, "--mode", mode}
	c, err := e.kids.startEnv("floor "+mode, e.cfg.Self, args, nil, nil)
	if err != nil {
		return nil, err
	}
	r := &relayProc{child: c, http: "http://" + addr, ws: "ws://" + addr + "/v1/ws"}
	if err := waitReady(ctx, r.http+"/readyz", readyPoll, c); err != nil {
		_ = c.stop(stopGrace)
		return nil, fmt.Errorf("start the floor server (%s): %w", mode, err)
	}
	return r, nil
}

// stop stops the relay: SIGTERM, then SIGKILL after stopGrace.
func (r *relayProc) stop() error { return r.child.stop(stopGrace) }

// waitReady polls url every interval until it answers 200, the child ends,
// readyTimeout passes or ctx ends.
func waitReady(ctx context.Context, url string, interval time.Duration, c *child) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(readyTimeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("poll %s: %w", url, err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if c.exited() {
			return fmt.Errorf("the process ended before %s answered 200: %s", url, c.why())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s: %s", url, readyTimeout, c.why())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("poll %s: %w", url, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// relayMallocs reads the relay's go_memstats_mallocs_total from its
// /metrics: how many heap objects it has allocated since it started.
func relayMallocs(ctx context.Context, base string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read the relay's metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_mallocs_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("go_memstats_mallocs_total %q: %w", v, err)
			}
			return uint64(f), nil
		}
	}
	return 0, fmt.Errorf("the relay's metrics have no go_memstats_mallocs_total")
}
