// Package redact owns the relay's personal-data policy: which fields of the
// workbench's params (and of the relay's own agent subject, talk and
// customer fields) are published as they are, dropped, masked or replaced by
// a keyed pseudonym, before anything leaves the relay's memory.
//
// A Policy is built once, from a preset or a policy file, and is then
// immutable and safe for concurrent use. It rewrites a params object in one
// pass over its bytes. It never logs, and its errors never carry a value it
// was given, only field names and line numbers.
//
// The package knows nothing of WebSockets, NATS or the relay's pipeline; it
// imports the events package only for its JSON scanner.
package redact
