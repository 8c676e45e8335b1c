// Package relay is the callrelay service: the HTTP and WebSocket edge that the
// browser hook talks to, admission (origins, limits), the per-connection ack
// protocol, and the pipeline from a received frame to a published event
// (decode, validate, dedup, correlate, publish, answer), with several events
// of a connection in flight and their answers in order, readiness and
// metrics.
//
// It knows the domain only through package events, the correlation through
// package correlate, and the outside world only through the Sink interface
// it declares; it never imports a concrete sink or store.
// It holds no globals: the logger and the Prometheus registerer are passed in.
package relay
