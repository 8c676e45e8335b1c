package sinks

import (
	"context"
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

	mu       sync.Mutex
	waiting  []natsWaiter
	flushing bool
	watch    *watcher // made by OnResume
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
	return &NATS{nc: nc, timeout: timeout}
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
		err := s.nc.FlushTimeout(s.timeout)
		if err != nil {
			err = fmt.Errorf("wait for the nats server: %w", classify(s.nc, err))
		}
		for i, w := range batch {
			w.c.Published(w.tag, false, err)
			batch[i] = natsWaiter{}
		}
	}
}

// OnResume registers fn to be called every time the connection is back
// after it was lost (relay.Resumer), from a goroutine that ends when the
// connection is closed.
func (s *NATS) OnResume(fn func()) {
	s.mu.Lock()
	if s.watch == nil {
		s.watch = newWatcher(s.nc)
	}
	w := s.watch
	s.mu.Unlock()
	w.onUp(fn)
}

// Ready returns nil while the connection is up, and an error naming the
// connection's status otherwise. It does not contact the server.
func (s *NATS) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return checkConnected(s.nc)
}
