// Package demo owns the local demonstration of callrelay: a parent page at
// /demo that includes the hook exactly as an integrator does, a simulated
// Sobot agent workbench served on a second listener (a different origin),
// a live panel fed with server-sent events from a NATS subscription to the
// relay's own subjects (a board of calls and agents, and every message),
// and an outage switch: Outage wraps the relay's sink so that the page can
// make NATS look unreachable and show events queue in the hook and go out
// once the switch is off. The simulator file (static/simulator.js) also
// drives the browser tests in browserhook/test, so demo and tests play the
// same flows.
//
// The demo shows what is published on the subjects to anyone who can open
// /demo: it is for a local run (cmd/relay turns it on by default only with the
// embedded NATS server), never for production. It answers only a loopback
// Host and an Origin of that host, and never logs message bodies.
package demo
