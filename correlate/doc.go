// Package correlate joins the two sides of a call, the talk details
// (iframeParams) and the phone-bar events (callBarEvent), and keeps the
// call's merged view and the agents' states (DESIGN §2, contract C). One
// event's correlation is a transaction: Begin reads and applies it and
// enriches the event, the caller publishes the event and the call view,
// then Commit stores the new state, or Abort leaves it as it was, so that a
// resend after a failed publish is never mistaken for a repeat.
//
// The state lives behind the State interface: Memory for one relay, or an
// implementation in package sinks on NATS JetStream key-value buckets for
// several replicas. Replay rebuilds a Memory, when the relay starts again,
// from the messages it had published. The package also holds Dedup, the
// bounded window of event ids and content keys.
//
// Package correlate knows nothing of WebSockets, HTTP or NATS; it never
// logs personal data.
package correlate
