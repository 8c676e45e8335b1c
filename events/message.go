package events

import "encoding/json"

// DefaultMaxBytes is the largest event.data Parse accepts when
// Options.MaxBytes is zero.
const DefaultMaxBytes = 64 << 10

// Options control parsing.
type Options struct {
	// MaxBytes is the largest data accepted, in bytes; 0 (or less) means DefaultMaxBytes.
	MaxBytes int
	// StrictMessageIDs rejects callBarEvent message IDs outside the known 14.
	StrictMessageIDs bool
}

// Message is one workbench message (event.data), decoded, validated and
// normalised by Parse.
type Message struct {
	// Source is always Source.
	Source string
	// Type is TypeIframeParams or TypeCallBarEvent.
	Type string
	// Params is the params object exactly as received: the raw bytes,
	// within the data given to Parse.
	Params json.RawMessage
	// MessageID is params.messageID; set on callBarEvent only.
	MessageID string
	// Known reports whether MessageID is one of the 14 documented IDs; it
	// is always true for iframeParams.
	Known bool
	// CallID is params.callID (callBarEvent) or params.callId
	// (iframeParams), either spelling being accepted on either type, with
	// integer numbers written as decimal strings; "" when absent, null or empty.
	CallID string
	// Direction comes from params.callType; "" when absent or not recognised.
	Direction Direction
	// CreationTime is params.creationTime in milliseconds since the epoch
	// (callBarEvent only); 0 when absent.
	CreationTime int64
	// Queue is the first and last distributed queue of an EventEstablished,
	// nil when none of the six queue fields is present and non-empty.
	Queue *Queue
	// Location is params.province and params.city, nil when both are absent or empty.
	Location *Location
	// Agent is what params say about the agent, nil when nothing is known.
	Agent *Agent
	// Customer is the customer of an iframeParams message, nil when all
	// its fields are empty (and always nil for callBarEvent).
	Customer *Customer
	// TalkPrint is the fingerprint of an iframeParams' params (see
	// TalkFingerprint), computed by Parse from the same scan.
	TalkPrint Digest

	// fields are where the known params fields lie within Params.
	fields [numFields]vspan
	// The values Queue, Location, Agent and Customer point to, so that a
	// message is one allocation (and one more for all its texts).
	queue    Queue
	location Location
	agent    Agent
	customer Customer
}

// Detach returns a copy of m that owns its Params (a copy of the bytes), for
// a caller that keeps the message after the data it was parsed from is
// reused. Its Queue, Location, Agent and Customer point into the copy.
func (m *Message) Detach() *Message {
	d := *m
	d.Params = append(json.RawMessage(nil), m.Params...)
	if m.Queue != nil {
		d.Queue = &d.queue
	}
	if m.Location != nil {
		d.Location = &d.location
	}
	if m.Agent != nil {
		d.Agent = &d.agent
	}
	if m.Customer != nil {
		d.Customer = &d.customer
	}
	return &d
}

// raw returns the raw JSON value of known field f, nil when absent.
func (m *Message) raw(f int) []byte {
	s := m.fields[f]
	if s.end == 0 || int(s.end) > len(m.Params) {
		return nil
	}
	return m.Params[s.start:s.end]
}

// Party returns params.partyID as text, "" when absent. It reads Params,
// so it is valid only as long as the parsed data is.
func (m *Message) Party() string {
	return string(appendText(nil, m.raw(fPartyID)))
}

// Queue is the first and the last queue (skill group) a call was
// distributed to, from the firstDistributedQueue... and
// lastDistributedQueue... fields of EventEstablished.
type Queue struct {
	First QueueRef `json:"first"`
	Last  QueueRef `json:"last"`
}

// QueueRef identifies one queue (skill group). Numbers are written as
// decimal strings.
type QueueRef struct {
	UUID string `json:"uuid,omitempty"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Location is where the customer's number is registered.
type Location struct {
	Province string `json:"province,omitempty"`
	City     string `json:"city,omitempty"`
}

// Agent is what is known of the agent handling a message.
type Agent struct {
	// Subject is filled by the relay from the client's token; never from params.
	Subject string `json:"subject,omitempty"`
	// Email is params.email of iframeParams.
	Email string `json:"email,omitempty"`
	// ID is params.agentID (the staff number).
	ID string `json:"id,omitempty"`
	// UUID is params.agentUUID (stable across renames).
	UUID string `json:"uuid,omitempty"`
}

// Customer is the customer of a talk, from iframeParams.
type Customer struct {
	PartnerID string `json:"partnerId,omitempty"`
	UID       string `json:"uid,omitempty"`
	// Uphone is the customer's number, masked (e.g. 158****2496) when
	// EncryptUphone is set.
	Uphone        string `json:"uphone,omitempty"`
	EncryptUphone string `json:"encryptUphone,omitempty"`
	Uemail        string `json:"uemail,omitempty"`
}
