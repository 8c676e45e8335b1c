package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// scenario is one row of the main table (one row per relay binary for the
// relay paths).
type scenario struct {
	short string // its --only name
	name  string // its row label
	relay bool   // through a relay process
	floor string // through the floor server in this mode (floor.go), not a relay
	// embedded runs the relay with its own nats-server in its process
	// instead of the bench's: the relay's CPU then includes the store's.
	embedded bool
	agents   func(ctx context.Context, t target) ([]agent, error)
}

// target is what the agents of one scenario run talk to, and the tag and
// clock that keep their events unique.
type target struct {
	relay *relayProc // nil for the direct NATS paths
	nats  *natsProc
	tag   string
	clock *creationClock
}

// natsWSName is the row the main table's ratio column divides by.
const natsWSName = "nats-server ws, 1 in flight x 50"

// scenarios lists the main table's rows, in order.
func scenarios() []scenario {
	return []scenario{
		{short: "nats-async", name: "nats async (limit)", agents: natsAsyncAgents},
		{short: "nats-ws", name: natsWSName, agents: natsWSAgents},
		{short: "floor-echo", name: "floor: ws echo, 1 in flight x 50", floor: FloorEcho, agents: wsAgents(agents, 1, false)},
		{short: "floor-carry", name: "floor: ws carried to JetStream, 1 in flight x 50", floor: FloorCarry, agents: wsAgents(agents, 1, false)},
		{short: "ws-1x50", name: "relay ws, 1 in flight x 50", relay: true, agents: wsAgents(agents, 1, false)},
		{short: "ws-16x50", name: "relay ws, window 16 x 50", relay: true, agents: wsAgents(agents, wideWindow, false)},
		{short: "ws-1x5", name: "relay ws, 1 in flight x 5", relay: true, agents: wsAgents(fewAgents, 1, false)},
		{short: "ws-16x5", name: "relay ws, window 16 x 5", relay: true, agents: wsAgents(fewAgents, wideWindow, false)},
		{short: "post", name: "relay post, batch 50", relay: true, agents: postAgents},
		{short: "mix", name: "relay lifecycle mix, 1 in flight x 50", relay: true, agents: wsAgents(agents, 1, true)},
		{short: "emb-1x50", name: "relay ws, embedded nats, 1 in flight x 50", relay: true, embedded: true, agents: wsAgents(agents, 1, false)},
		{short: "emb-mix", name: "relay lifecycle mix, embedded nats, 1 in flight x 50", relay: true, embedded: true, agents: wsAgents(agents, 1, true)},
	}
}

// natsAsyncAgents is one TCP connection publishing asynchronously with up
// to asyncPending acks pending: what the stream can take at most.
func natsAsyncAgents(ctx context.Context, t target) ([]agent, error) {
	a, err := newNATSAsyncAgent(t.nats.url, newGenerator(t.tag, 0, false, t.clock), asyncPending, 0, 0)
	if err != nil {
		return nil, err
	}
	return []agent{a}, nil
}

// natsWSAgents are 50 nats.go WebSocket connections, each publishing one
// event at a time: the relay's job done by the browser talking to NATS.
func natsWSAgents(ctx context.Context, t target) ([]agent, error) {
	return connectAll(ctx, agents, func(ctx context.Context, i int) (agent, error) {
		return newNATSSyncAgent(t.nats.wsURL, newGenerator(t.tag, i, false, t.clock))
	})
}

// wsAgents returns the builder of n relay WebSocket agents, closed loop
// with window events in flight, sending EventEstablished or the mix.
func wsAgents(n, window int, mix bool) func(context.Context, target) ([]agent, error) {
	return func(ctx context.Context, t target) ([]agent, error) {
		return connectAll(ctx, n, func(ctx context.Context, i int) (agent, error) {
			conn, err := dialRelay(ctx, t.relay.ws, t.tag+"-s"+strconv.Itoa(i), 4096)
			if err != nil {
				return nil, err
			}
			return &wsAgent{conn: conn, gen: newGenerator(t.tag, i, mix, t.clock), window: window}, nil
		})
	}
}

// postAgents are postClients clients posting batches of postBatch events.
func postAgents(_ context.Context, t target) ([]agent, error) {
	out := make([]agent, postClients)
	for i := range out {
		out[i] = newPostAgent(t.relay.http, newGenerator(t.tag, i, false, t.clock))
	}
	return out, nil
}

// runScenario measures s once, through a fresh relay running bin when s is
// a relay path (bin is ignored otherwise), on an empty stream.
func (e *Env) runScenario(ctx context.Context, s scenario, bin Binary) (row, error) {
	name := s.name
	if s.relay && len(e.cfg.Relays) > 1 {
		name += " (" + bin.Label + ")"
	}
	if err := e.nats.resetStream(ctx); err != nil {
		return row{}, err
	}
	t := target{nats: e.nats, tag: e.newTag(), clock: newCreationClock()}
	pids := []int{e.nats.child.pid()}
	if s.relay || s.floor != "" {
		var rp *relayProc
		var err error
		if s.floor != "" {
			rp, err = e.startFloor(ctx, s.floor)
		} else {
			rp, err = e.startRelay(ctx, bin, s.embedded)
		}
		if err != nil {
			return row{}, err
		}
		defer e.stopRelay(rp)
		t.relay = rp
		pids = append(pids, rp.child.pid())
	}
	ag, err := s.agents(ctx, t)
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", name, err)
	}
	defer closeAll(ag)
	var mallocs func() (uint64, error)
	if t.relay != nil {
		mallocs = func() (uint64, error) { return relayMallocs(ctx, t.relay.http) }
	}
	m, err := e.driveProbed(ctx, ag, e.cfg.Warmup, e.cfg.Duration, 0, mallocs, pids...)
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", name, err)
	}
	r := newRow(name, m)
	if t.relay != nil {
		r.relayCPU = m.perEvent(1)
		r.relayAllocs = m.allocs
		rss, err := e.proc.rss(t.relay.child.pid())
		if err != nil {
			return row{}, fmt.Errorf("%s: %w", name, err)
		}
		r.relayRSS = float64(rss) / (1 << 20)
	}
	e.progressf("%s: %.0f acked, %.0f/s, p99 %.2f ms, %d errors; the bench's clients used %.1f µs/ev",
		name, r.acked, r.rate, r.lat.p99, r.errors, m.benchCPU())
	return r, nil
}

// stopRelay stops a relay and reports a relay that had to be killed.
func (e *Env) stopRelay(rp *relayProc) {
	start := time.Now()
	if err := rp.stop(); err != nil {
		e.progressf("warning: %v", err)
	} else if d := time.Since(start); d > time.Second {
		e.progressf("warning: the relay took %s to stop", d.Round(time.Millisecond))
	}
}
