package sinks

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/callrelay/callrelay/relay"
)

// msgIDHeader is the header that carries the event id. JetStream uses it to
// drop duplicates; on core NATS it lets subscribers do the same.
const msgIDHeader = nats.MsgIdHdr

// NATS is a Sink that publishes to core NATS. Publish returns once the server
// has read the message (a PING/PONG round trip after it), which is the most
// core NATS can promise: the message was not necessarily delivered to any
// subscriber. NATS is safe for concurrent use.
type NATS struct {
	nc *nats.Conn
}

// NewNATS returns a sink that publishes on nc. The caller owns nc and closes
// it after the sink is no longer used. Use Connect to get a suitably
// configured connection.
func NewNATS(nc *nats.Conn) *NATS {
	return &NATS{nc: nc}
}

// Publish sends env to env.Subject with env.ID in the Nats-Msg-Id header and
// waits until the server confirms it has read it. It fails at once while the
// connection is down. duplicate is always false: core NATS does not
// de-duplicate.
func (s *NATS) Publish(ctx context.Context, env relay.Envelope) (bool, error) {
	if err := checkConnected(s.nc); err != nil {
		return false, fmt.Errorf("publish to %s: %w", env.Subject, err)
	}
	msg := newMsg(env)
	if err := s.nc.PublishMsg(msg); err != nil {
		return false, fmt.Errorf("publish to %s: %w", env.Subject, classify(s.nc, err))
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	// FlushWithContext is a PING that the server answers with a PONG only
	// after it has processed everything sent before it on this connection.
	// The client ends a pending flush itself when the connection drops.
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return false, fmt.Errorf("publish to %s: wait for server: %w", env.Subject, classify(s.nc, err))
	}
	return false, nil
}

// Ready returns nil while the connection is up, and an error naming the
// connection's status otherwise. It does not contact the server.
func (s *NATS) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return checkConnected(s.nc)
}

// newMsg builds the NATS message for env. The body is not copied: the NATS
// client copies it into its write buffer before Publish returns.
func newMsg(env relay.Envelope) *nats.Msg {
	msg := nats.NewMsg(env.Subject)
	msg.Data = env.Data
	if env.ID != "" {
		msg.Header.Set(msgIDHeader, env.ID)
	}
	return msg
}
