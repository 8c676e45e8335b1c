package relay

import "sync/atomic"

// orderGuard keeps one client's events (a WebSocket connection, a POST
// batch) from being stored ahead of an earlier event of the same client
// that will be answered with retry (DESIGN §4). The answers hold every
// event after one answered with retry (the connection's halt, the batch's
// held flag); the guard covers the moments before that answer is known,
// when later events would otherwise already be published:
//
//   - an earlier event of the client will be answered with retry (its
//     publish failed, at once or later, or it was refused with retry
//     before any publish), and the halt that answer sets is not in place
//     yet;
//   - the sink's connection was made again (Generations) since the
//     client's last publish, while some of its publishes are still
//     unanswered: those may have been lost with the old connection, and
//     the new one would store the later event first.
//
// In both cases the event is answered held_for_order without being
// published. Failures are recorded with the order generation of the
// client's event (the connection's count of halts, see conn.gen): the
// halt set by the first retry answer of a generation covers every later
// event of that generation, so a failure needs holding only while no halt
// covers its generation yet. The reader of the client's frames calls
// failedAfter, mustHold, fail and published; the sink's goroutines call
// done.
type orderGuard struct {
	failed   atomic.Uint64 // the highest order generation with a retry answer to come
	inflight atomic.Int32  // events published and not yet complete
	gen      uint64        // the sink's generation at the client's last publish (reader only)
}

// failedAfter reports whether an event of an order generation later than
// covered will be answered with retry: the next event must be held.
func (g *orderGuard) failedAfter(covered uint64) bool { return g.failed.Load() > covered }

// fail records that an event of order generation gen will be answered
// with retry.
func (g *orderGuard) fail(gen uint64) {
	for {
		cur := g.failed.Load()
		if cur >= gen || g.failed.CompareAndSwap(cur, gen) {
			return
		}
	}
}

// mustHold reports whether the next event must be held because the
// sink's connection changed, sinkGen being the sink's generation now.
func (g *orderGuard) mustHold(sinkGen uint64) bool {
	return g.inflight.Load() > 0 && sinkGen != g.gen
}

// published records that an event was handed to the sink at generation sinkGen.
func (g *orderGuard) published(sinkGen uint64) {
	g.gen = sinkGen
	g.inflight.Add(1)
}

// done records that an event's publishes completed; failed when any did
// not succeed, gen being the event's order generation. The failure is
// recorded before the event stops counting as in flight, so that a reader
// that sees nothing in flight sees the failure.
func (g *orderGuard) done(gen uint64, failed bool) {
	if failed {
		g.fail(gen)
	}
	g.inflight.Add(-1)
}

// holdForOrder answers s, the event id, with held_for_order, unstarted.
func holdForOrder(p *pipeline, s *slot, id string) *slot {
	p.m.retryableCode(CodeHeldForOrder).Inc()
	answer(s, nack(id, CodeHeldForOrder, "an earlier event of this connection was not published; send it first"))
	return s
}

// sinkGeneration is the sink's Generation, 0 when it has none.
func (p *pipeline) sinkGeneration() uint64 {
	if p.gens == nil {
		return 0
	}
	return p.gens.Generation()
}
