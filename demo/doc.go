// Package demo owns the local demonstration of callrelay: a parent page at
// /demo that includes the hook exactly as an integrator does, a simulated
// Sobot agent workbench served on a second listener (a different origin),
// and a live panel fed with server-sent events from a NATS subscription to
// the relay's own subjects. The simulator file (static/simulator.js) also
// drives the browser tests in browserhook/test, so demo and tests play the
// same flows.
//
// The demo shows what is published on the subjects to anyone who can open
// /demo: it is for a local run (cmd/relay turns it on by default only with the
// embedded NATS server), never for production. It never logs message bodies.
package demo
