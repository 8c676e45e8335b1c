package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// defaultPublishTimeout bounds a publish whose ctx has no deadline: the
// server's confirmation must not be awaited forever.
const defaultPublishTimeout = 5 * time.Second

// ErrNotConnected is wrapped by every error a sink returns because its
// connection to the NATS server was down, or went down, during the call. Such
// an error is always worth retrying later. It is a sentinel value, never
// modified.
var ErrNotConnected = errors.New("not connected to nats")

// checkConnected returns an error wrapping ErrNotConnected, with the
// connection status, unless nc is connected.
func checkConnected(nc *nats.Conn) error {
	if nc == nil {
		return fmt.Errorf("%w: no connection", ErrNotConnected)
	}
	if !nc.IsConnected() {
		return fmt.Errorf("%w: connection is %s", ErrNotConnected, nc.Status())
	}
	return nil
}

// classify adds ErrNotConnected to err, a failed publish, when the connection
// is down now or the client refused to buffer the message while reconnecting.
// The NATS client reports a flush cut short by a disconnect as "connection
// closed" even though it is reconnecting; classify makes that retryable.
func classify(nc *nats.Conn, err error) error {
	if err == nil || errors.Is(err, ErrNotConnected) {
		return err
	}
	if errors.Is(err, nats.ErrReconnectBufExceeded) || !nc.IsConnected() {
		return fmt.Errorf("%w (connection is %s): %w", ErrNotConnected, nc.Status(), err)
	}
	return err
}

// withDefaultTimeout returns ctx unchanged if it has a deadline, and ctx with
// defaultPublishTimeout otherwise.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultPublishTimeout)
}

// generation is the number of reconnects of nc: the client counts one,
// under its lock, before it lets anything be published on the new
// connection (relay.Generations).
func generation(nc *nats.Conn) uint64 {
	return nc.Stats().Reconnects
}
