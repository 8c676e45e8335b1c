package demo

import (
	"context"
	"errors"
	"sync"
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
// When the switch goes off, Outage calls the functions given to OnResume,
// as a sink whose NATS connection comes back does, so that a relay that
// tells its clients of a recovery (a resume frame) does so for the
// simulated outage too; the wrapped sink's own recoveries are passed on
// while the switch is off.
//
// Outage is safe for concurrent use; while it is not paused it adds one
// atomic load to each Publish.
type Outage struct {
	next   relay.Sink
	paused atomic.Bool

	mu      sync.Mutex
	resumes []func()
}

// resumer is a sink that reports when it can publish again.
type resumer interface{ OnResume(fn func()) }

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

// Pause turns the simulated outage on (true) or off (false). Turning it
// off calls the OnResume functions.
func (o *Outage) Pause(on bool) {
	if was := o.paused.Swap(on); !was || on {
		return
	}
	o.mu.Lock()
	fns := append([]func(){}, o.resumes...)
	o.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// OnResume registers fn to be called each time the sink can publish again:
// when the switch goes off, and when the wrapped sink recovers while the
// switch is off. fn must return quickly.
func (o *Outage) OnResume(fn func()) {
	o.mu.Lock()
	o.resumes = append(o.resumes, fn)
	o.mu.Unlock()
	if r, ok := o.next.(resumer); ok {
		r.OnResume(func() {
			if !o.paused.Load() {
				fn()
			}
		})
	}
}

// Paused reports whether the simulated outage is on.
func (o *Outage) Paused() bool { return o.paused.Load() }

// Generation is the wrapped sink's (relay.Generations), 0 when it has none.
func (o *Outage) Generation() uint64 {
	if g, ok := o.next.(relay.Generations); ok {
		return g.Generation()
	}
	return 0
}
