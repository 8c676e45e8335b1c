// Package relay is the callrelay service: the HTTP and WebSocket edge that the
// browser hook talks to, admission (origins, limits), the per-connection ack
// protocol, the pipeline from a received frame to a published event
// (validate, dedup, correlate, publish, ack), the correlation of a call's
// events into its merged view, readiness and metrics.
//
// It knows the domain only through package events and the outside world only
// through the Sink and State interfaces it declares; it never imports a
// concrete sink or store.
// It holds no globals: the logger and the Prometheus registerer are passed in.
package relay
