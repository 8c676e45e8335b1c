package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Idle-connection settings: the bench's side of each connection is kept
// small, and a few descriptors are left for everything else.
const (
	idleSection   = "idle"
	idleBuf       = 1024
	idleDialers   = 32
	idleFDReserve = 256
	idleStartWait = 200 * time.Millisecond
)

// runIdle measures the relay's memory per idle WebSocket connection, for
// each binary and size, each on a fresh relay.
func runIdle(ctx context.Context, e *Env) ([]Table, error) {
	t := Table{
		Title:   "Idle connections",
		Columns: []string{"relay", "connections", "opened", "open s", "RSS before MiB", "RSS after MiB", "KiB per connection", "errors"},
	}
	for _, b := range e.cfg.Relays {
		for _, n := range e.cfg.IdleSizes {
			if uint64(n)+idleFDReserve > e.fileLimit {
				t.Notes = append(t.Notes, fmt.Sprintf("%d connections skipped: the open-file limit is %d.", n, e.fileLimit))
				continue
			}
			cells, err := e.idleRow(ctx, b, n, &t.Notes)
			if err != nil {
				return nil, err
			}
			t.Rows = append(t.Rows, cells)
		}
	}
	t.Notes = append(t.Notes, "Each connection sends hello and reads welcome, like the browser hook; "+
		"KiB per connection is (after - before) / connections, RSS read "+e.cfg.IdleSettle.String()+" after the last one opened.")
	return []Table{t}, nil
}

// idleRow opens n connections to a fresh relay running b and measures it.
func (e *Env) idleRow(ctx context.Context, b Binary, n int, notes *[]string) ([]string, error) {
	e.progressf("[idle] %s: %d connections", b.Label, n)
	rp, err := e.startRelay(ctx, b, false)
	if err != nil {
		return nil, err
	}
	defer e.stopRelay(rp)
	time.Sleep(idleStartWait)
	before, err := e.proc.rss(rp.child.pid())
	if err != nil {
		return nil, err
	}
	start := time.Now()
	conns, st := openIdle(ctx, rp.ws, n)
	opened := time.Since(start)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	select {
	case <-time.After(e.cfg.IdleSettle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	after, err := e.proc.rss(rp.child.pid())
	if err != nil {
		return nil, err
	}
	perConn := float64(after-before) / 1024 / float64(max(len(conns), 1))
	label := fmt.Sprintf("%s, %d connections", b.Label, n)
	e.progressf("%s: %.1f KiB per connection, %d errors", label, perConn, st.errors)
	return []string{
		b.Label, strconv.Itoa(n), strconv.Itoa(len(conns)), fmtFloat(opened.Seconds(), 2),
		fmtFloat(float64(before)/(1<<20), 1), fmtFloat(float64(after)/(1<<20), 1),
		fmtFloat(perConn, 1), fmtErrors(st.errors, st.firstErr, notes, label),
	}, nil
}

// openIdle opens n relay WebSockets, idleDialers at a time, each saying
// hello and reading its welcome; it returns those that opened.
func openIdle(ctx context.Context, url string, n int) ([]*websocket.Conn, stats) {
	var (
		mu    sync.Mutex
		conns []*websocket.Conn
		st    stats
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for range idleDialers {
		wg.Go(func() {
			for i := range next {
				c, err := dialRelay(ctx, url, "idle-"+strconv.Itoa(i), idleBuf)
				mu.Lock()
				if err != nil {
					st.fail(1, "connection %d: %v", i, err)
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return conns, st
}
