package relay

import "context"

// Envelope is one message handed to a Sink: the subject it goes to, the
// event id used for de-duplication downstream, the CloudEvents attributes
// that describe it, and the JSON body.
//
// Sinks send the attributes as headers in the CloudEvents NATS binding's
// binary mode (DESIGN §5): ce-specversion "1.0", ce-id = ID, ce-source =
// Source, ce-type = Type, ce-time = Time, ce-subject = CallID when it is not
// empty, and content-type application/json. Every string is set by the
// relay, never taken from the client as is.
type Envelope struct {
	// Subject is the full NATS subject, e.g. "agentcall.default.callBarEvent.EventRinging".
	Subject string
	// ID is the message id. Sinks that support it send it as the
	// Nats-Msg-Id header so that the server drops a second copy; it is
	// also the CloudEvents id.
	ID string
	// Type is the CloudEvents type, e.g.
	// "com.sobot.agentcall.callBarEvent.EventRinging".
	Type string
	// Source is the CloudEvents source: "/callrelay/<prefix>/<tenant>".
	Source string
	// CallID is the call the message is about, "" when none: the
	// CloudEvents subject.
	CallID string
	// Time is the CloudEvents time, RFC 3339: when the relay received
	// the event (for a call view, the event that changed it).
	Time string
	// Data is the JSON body. The sink must not modify or retain it after
	// Publish returns.
	Data []byte
}

// Completion receives the outcome of a Publish. tag is the value given to
// Publish, so that one receiver can wait for several messages.
type Completion interface {
	Published(tag int, duplicate bool, err error)
}

// Sink is where accepted and rejected events go.
//
// Publish hands env to the destination without waiting and arranges for
// c.Published to be called exactly once with its outcome: from Publish
// itself when it fails at once (the destination is unreachable), otherwise
// later, from a goroutine of the sink. Published must return quickly and
// must not call Publish.
//
// Success (a nil error) means the destination has taken the message: for
// JetStream, the stream's PubAck; for core NATS, a round trip to the server
// after the message, which confirms the server read it. The relay
// acknowledges an event to its client only after that, so a Sink must never
// report success for a message it merely buffered. duplicate is true when
// the destination recognised the message as one it already stored (for
// JetStream, a PubAck marked duplicate): that is success, the event is
// stored once.
//
// Any error means the message may not have been stored. The relay treats
// every error as temporary: it answers with a retryable nack, and the client
// sends the event again later, with the same id. A Sink must therefore fail
// fast while its destination is unreachable (no hidden reconnect buffer),
// fail every message in flight when the connection drops, and report a
// message it has no answer for within its publish timeout as failed.
//
// Order: messages given to Publish one after another (by one goroutine, or
// under the caller's own lock) reach the destination in that order, and a
// destination stores a prefix of what it received from one connection; so
// when a message fails, every later one either fails too or is reported
// stored after it.
//
// Publish is called concurrently by every client connection. Ready reports
// whether the Sink can publish right now; it must be cheap (it is called by
// /readyz and on every metrics scrape) and must not block beyond ctx.
type Sink interface {
	Publish(env Envelope, c Completion, tag int)
	Ready(ctx context.Context) error
}

// Resumer is implemented by a Sink that can tell when it is able to
// publish again after it was not (for NATS: the connection is back). The
// relay then sends every connected client a resume frame, so that the
// events it answered with retry:true are sent again at once instead of
// after the client's back-off (docs/protocol.md). OnResume registers fn to
// be called, from a goroutine of the sink, every time that happens; fn
// returns quickly.
type Resumer interface {
	OnResume(fn func())
}

// Generations is implemented by a Sink whose connection can be lost and
// made again (for NATS: each reconnect). Generation counts the connections
// made so far; it must change before anything can be published on a new
// connection. Messages handed to Publish on one connection and not yet
// answered when it was lost may be lost with it, while later messages go
// out on the next: the relay uses the count to hold a client's later
// events until the earlier ones are answered, so that nothing is stored
// ahead of an event that will be answered with retry (DESIGN §4).
type Generations interface {
	Generation() uint64
}
