// Package bench is the relay's benchmark: `relay bench` measures, side by
// side on one machine, the direct paths into a nats-server JetStream stream
// and the paths through relay processes, with the same payloads and the
// same store, and prints Markdown tables.
//
// It owns the scenarios, the child processes it starts (one nats-server,
// relays, cold starts), the /proc readers that measure them and the report.
// It talks to the relay only over its public protocol and command line, so
// that a relay binary built from another commit can be measured as well; it
// must not import the relay's packages.
//
// Everything it starts is bounded in time and count, listens on 127.0.0.1
// only, and is stopped, with every temporary directory removed, before Run
// returns, also when its context is cancelled (Ctrl-C).
package bench
