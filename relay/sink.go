package relay

import "context"

// Envelope is one message handed to a Sink: the subject it goes to, the
// event id used for de-duplication downstream, and the JSON body.
type Envelope struct {
	// Subject is the full NATS subject, e.g. "agentcall.default.callBarEvent.EventRinging".
	Subject string
	// ID is the hook's event id. Sinks that support it send it as the
	// Nats-Msg-Id header so that the server drops a second copy.
	ID string
	// Data is the JSON body. The sink must not modify or retain it after
	// Publish returns.
	Data []byte
}

// Sink is where accepted and rejected events go.
//
// Publish returns nil only once the destination has taken the message: for
// JetStream after the stream's PubAck, for core NATS after a round trip to the
// server has confirmed that it read the message. The relay acknowledges an
// event to its client only after Publish returned nil, so a Sink must never
// report success for a message it merely buffered.
//
// duplicate is true when the destination recognised the message as one it had
// already stored (for JetStream, a PubAck marked duplicate). That is success:
// the event is stored exactly once.
//
// Any error means the message may not have been stored. The relay treats every
// Publish error as temporary: it answers the client with a retryable nack and
// the client sends the event again later, with the same ID. A Sink must
// therefore fail fast while its destination is unreachable (no hidden
// client-side reconnect buffer) and must honour ctx's deadline.
//
// Publish is called concurrently from many goroutines, one per client
// connection; calls made one after another from a single goroutine must reach
// the destination in that order.
//
// Ready reports whether the Sink can publish right now; it must be cheap (it is
// called by /readyz and on every metrics scrape) and must not block beyond ctx.
type Sink interface {
	Publish(ctx context.Context, env Envelope) (duplicate bool, err error)
	Ready(ctx context.Context) error
}
