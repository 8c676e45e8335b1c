package sinks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/callrelay/callrelay/relay"
)

// msgIDHeader is the header that carries the event id. JetStream uses it to
// drop duplicates; on core NATS it lets subscribers do the same.
const msgIDHeader = nats.MsgIdHdr

// NATS is a Sink that publishes to core NATS. A message is complete once
// the server has read it: a PING/PONG round trip after it, shared by every
// message published while the previous round trip was out. That is the most
// core NATS can promise: the message was not necessarily delivered to any
// subscriber. NATS is safe for concurrent use.
type NATS struct {
	nc      *nats.Conn
	timeout time.Duration
	msgs    msgPool

	watch *watcher // the connection's status: ends a round trip when it is lost

	mu       sync.Mutex
	waiting  []natsWaiter
	flushing bool
	lost     context.CancelCauseFunc // ends the round trip under way
}

type natsWaiter struct {
	c   relay.Completion
	tag int
}

var (
	_ relay.Sink        = (*NATS)(nil)
	_ relay.Generations = (*NATS)(nil)
)

// Generation counts the connection's reconnects (relay.Generations).
func (s *NATS) Generation() uint64 { return generation(s.nc) }

// NewNATS returns a sink that publishes on nc; timeout bounds each round
// trip (0: 5s). The caller owns nc and closes it after the sink is no
// longer used. Use Connect to get a suitably configured connection.
func NewNATS(nc *nats.Conn, timeout time.Duration) *NATS {
	if timeout <= 0 {
		timeout = defaultPublishTimeout
	}
	s := &NATS{nc: nc, timeout: timeout, watch: newWatcher(nc)}
	// The client does not end a round trip started while it was noticing
	// the loss of its connection: the watcher ends it, so that the messages
	// waiting fail at once instead of at the timeout.
	s.watch.onLostForever(func(err error) {
		s.mu.Lock()
		if s.lost != nil {
			s.lost(err)
		}
		s.mu.Unlock()
	})
	return s
}

// Publish sends env to env.Subject with env.ID in the Nats-Msg-Id header
// and the CloudEvents headers, and completes it when the server confirms it has read it. duplicate is
// always false: core NATS does not de-duplicate.
func (s *NATS) Publish(env relay.Envelope, c relay.Completion, tag int) {
	if err := checkConnected(s.nc); err != nil {
		c.Published(tag, false, fmt.Errorf("publish to %s: %w", env.Subject, err))
		return
	}
	msg := s.msgs.get(env)
	err := s.nc.PublishMsg(&msg.Msg) // copies the message: msg is free again
	s.msgs.put(msg)
	if err != nil {
		c.Published(tag, false, fmt.Errorf("publish to %s: %w", env.Subject, classify(s.nc, err)))
		return
	}
	s.mu.Lock()
	s.waiting = append(s.waiting, natsWaiter{c, tag})
	start := !s.flushing
	s.flushing = true
	s.mu.Unlock()
	if start {
		go s.flush()
	}
}

// flush runs round trips until no message waits for one. FlushTimeout is a
// PING that the server answers only after it has processed everything sent
// before it on this connection; the client ends it when the connection drops.
func (s *NATS) flush() {
	var batch []natsWaiter
	for {
		s.mu.Lock()
		batch, s.waiting = s.waiting, batch[:0]
		if len(batch) == 0 {
			s.flushing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		err := s.roundTrip()
		if err != nil {
			err = fmt.Errorf("wait for the nats server: %w", err)
		}
		for i, w := range batch {
			w.c.Published(w.tag, false, err)
			batch[i] = natsWaiter{}
		}
	}
}

// roundTrip waits for the server to answer a PING sent after everything
// published so far; it fails at once when the connection is or gets lost.
func (s *NATS) roundTrip() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	ctx, lost := context.WithCancelCause(ctx)
	defer lost(nil)
	s.mu.Lock()
	s.lost = lost
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.lost = nil
		s.mu.Unlock()
	}()
	if err := checkConnected(s.nc); err != nil {
		return err
	}
	err := s.nc.FlushWithContext(ctx)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause // the watcher's: the connection was lost
	}
	if err != nil {
		return classify(s.nc, err)
	}
	return nil
}

// OnResume registers fn to be called every time the connection is back
// after it was lost (relay.Resumer), from a goroutine that ends when the
// connection is closed.
func (s *NATS) OnResume(fn func()) {
	s.watch.onUp(fn)
}

// Ready returns nil while the connection is up, and an error naming the
// connection's status otherwise. It does not contact the server.
func (s *NATS) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return checkConnected(s.nc)
}
