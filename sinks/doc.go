// Package sinks owns where events go once the relay has accepted them: core
// NATS, a JetStream stream, and the NATS server embedded in the relay by
// default, and the correlation state shared by several replicas in JetStream
// key-value buckets. It implements relay's Sink and State interfaces.
//
// Package sinks never decides what is valid: it publishes exactly the subject,
// id and body it is handed, and reports success only once the server has the
// message. It fails fast while disconnected so that the relay can tell its
// clients to retry, rather than holding messages in a client-side buffer.
package sinks
