package sinks

import (
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/callrelay/callrelay/relay"
)

// The headers of the CloudEvents NATS protocol binding, binary mode: the
// attributes as "ce-" headers in lower case (the SDKs look them up so), the
// body as is, its media type in content-type.
const (
	ceSpecVersionHeader = "ce-specversion"
	ceIDHeader          = "ce-id"
	ceSourceHeader      = "ce-source"
	ceTypeHeader        = "ce-type"
	ceTimeHeader        = "ce-time"
	ceSubjectHeader     = "ce-subject"
	contentTypeHeader   = "content-type"
)

// The headers a sink sets on every message, in the order of headerVals.
var headerKeys = [...]string{
	msgIDHeader, ceSpecVersionHeader, ceIDHeader, ceSourceHeader, ceTypeHeader, ceTimeHeader, ceSubjectHeader, contentTypeHeader,
}

// headerVals holds the one-value slices of a message's headers, so that a
// pooled message gets its headers set without allocating.
type headerVals [len(headerKeys)][1]string

// setHeaders writes env's Nats-Msg-Id and CloudEvents headers into h, using
// v as the storage of their values; a header whose value is empty (no id, no
// call) is removed. h and v are reused from one message to the next: after
// the first message, setting them allocates nothing.
func setHeaders(h nats.Header, v *headerVals, env relay.Envelope) {
	vals := [len(headerKeys)]string{env.ID, "1.0", env.ID, env.Source, env.Type, env.Time, env.CallID, "application/json"}
	for i, key := range headerKeys {
		if vals[i] == "" {
			delete(h, key)
			continue
		}
		v[i][0] = vals[i]
		h[key] = v[i][:]
	}
}

// pooledMsg is a NATS message kept in a sink's pool with the storage of its
// header values.
type pooledMsg struct {
	nats.Msg
	vals headerVals
}

// msgPool keeps the NATS messages of one sink: a message taken for a
// publish, headers included, allocates nothing once the pool is warm. The
// NATS client copies a message into its write buffer before PublishMsg
// returns, so a message goes back to the pool right after it.
type msgPool struct{ p sync.Pool }

// get returns a message for env, its body not copied.
func (p *msgPool) get(env relay.Envelope) *pooledMsg {
	m, _ := p.p.Get().(*pooledMsg)
	if m == nil {
		m = &pooledMsg{Msg: nats.Msg{Header: make(nats.Header, len(headerKeys))}}
	}
	m.Subject, m.Data = env.Subject, env.Data
	setHeaders(m.Header, &m.vals, env)
	return m
}

// put returns m to the pool, holding no body or string of the message it
// carried.
func (p *msgPool) put(m *pooledMsg) {
	m.Subject, m.Reply, m.Data = "", "", nil
	m.vals = headerVals{}
	p.p.Put(m)
}
