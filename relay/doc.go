// Package relay is the callrelay service: the HTTP and WebSocket edge that the
// browser hook talks to, admission (origins, limits), the per-connection ack
// protocol, the pipeline from a received frame to a published event
// (validate, dedup, publish, ack), readiness and metrics.
//
// It knows the domain only through package events and the outside world only
// through the Sink interface it declares; it never imports a concrete sink.
// It holds no globals: the logger and the Prometheus registerer are passed in.
package relay
