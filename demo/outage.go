package demo

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/callrelay/callrelay/relay"
)

// ErrOutage is what a paused Outage reports for every publish: the demo's
// stand-in for NATS being unreachable.
var ErrOutage = errors.New("demo: simulated NATS outage (the demo's outage switch is on)")

// Outage wraps the relay's sink with the demo's outage switch. While it is
// paused, every Publish fails at once with ErrOutage and Ready reports it,
// exactly as a sink does while NATS is unreachable: the relay answers the
// events with a retryable nack (sink_unavailable), /readyz answers 503 and
// callrelay_sink_up is 0, and the hook keeps the events queued until the
// switch is off again. cmd/relay wraps the sink with it in demo mode only.
//
// Outage is safe for concurrent use; while it is not paused it adds one
// atomic load to each Publish.
type Outage struct {
	next   relay.Sink
	paused atomic.Bool
}

var _ relay.Sink = (*Outage)(nil)

// NewOutage wraps next; the switch starts off.
func NewOutage(next relay.Sink) *Outage { return &Outage{next: next} }

// Publish hands env to the wrapped sink, or fails it at once while paused.
func (o *Outage) Publish(env relay.Envelope, c relay.Completion, tag int) {
	if o.paused.Load() {
		c.Published(tag, false, ErrOutage)
		return
	}
	o.next.Publish(env, c, tag)
}

// Ready reports ErrOutage while paused, else the wrapped sink's readiness.
func (o *Outage) Ready(ctx context.Context) error {
	if o.paused.Load() {
		return ErrOutage
	}
	return o.next.Ready(ctx)
}

// Pause turns the simulated outage on (true) or off (false).
func (o *Outage) Pause(on bool) { o.paused.Store(on) }

// Paused reports whether the simulated outage is on.
func (o *Outage) Paused() bool { return o.paused.Load() }
