package relay

import "sync/atomic"

// orderGuard keeps one client's events (a WebSocket connection, a POST
// batch) from being stored ahead of an earlier event of the same client
// that will be answered with retry (DESIGN §4). The answers already hold
// every event after one answered with retry; the guard covers the moments
// before that answer is known, when later events would otherwise already
// be published:
//
//   - an earlier publish of the client failed (at once, because the sink
//     was down, or later), and its event is not answered yet;
//   - the sink's connection was made again (Generations) since the
//     client's last publish, while some of its publishes are still
//     unanswered: those may have been lost with the old connection, and
//     the new one would store the later event first.
//
// In both cases the event is answered held_for_order without being
// published. The reader of the client's frames calls mustHold and
// published; the sink's goroutines call done.
type orderGuard struct {
	failed   atomic.Bool  // a publish failed; cleared once a retry answer was written
	inflight atomic.Int32 // events published and not yet complete
	gen      uint64       // the sink's generation at the client's last publish (reader only)
}

// mustHold reports whether the next event must be held, gen being the
// sink's generation now.
func (g *orderGuard) mustHold(gen uint64) bool {
	if g.failed.Load() {
		return true
	}
	return g.inflight.Load() > 0 && gen != g.gen
}

// published records that an event was handed to the sink at generation gen.
func (g *orderGuard) published(gen uint64) {
	g.gen = gen
	g.inflight.Add(1)
}

// done records that an event's publishes completed; failed when any did not
// succeed. The failure is recorded before the event stops counting as in
// flight, so that a reader that sees nothing in flight sees the failure.
func (g *orderGuard) done(failed bool) {
	if failed {
		g.failed.Store(true)
	}
	g.inflight.Add(-1)
}

// answered records that an answer with retry was written: from then on the
// answers hold what follows (the connection's halt, the batch's held flag).
// Every failed publish is answered with retry, so once the last one is
// answered, failed stays false.
func (g *orderGuard) answered() { g.failed.Store(false) }

// sinkGeneration is the sink's Generation, 0 when it has none.
func (p *pipeline) sinkGeneration() uint64 {
	if p.gens == nil {
		return 0
	}
	return p.gens.Generation()
}

// retryNow answers s at once with res, a retryable nack decided before any
// publish (the relay is draining, the state or the id window could not be
// read): the client's later events, which may be read and published before
// this answer is written, are held until it is (orderGuard).
func (p *pipeline) retryNow(in incoming, s *slot, res Result) {
	if in.guard != nil {
		in.guard.failed.Store(true)
	}
	answer(s, res)
}
