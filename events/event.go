package events

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is what the relay publishes for an accepted message (contract C).
// Its JSON form is described by schema/event.schema.json.
type Event struct {
	// ID is the hook's id for the message, stable across retries.
	ID string `json:"id"`
	// Tenant is the tenant the message was received for.
	Tenant string `json:"tenant"`
	// Type is TypeIframeParams or TypeCallBarEvent.
	Type string `json:"type"`
	// MessageID is params.messageID of a callBarEvent.
	MessageID string `json:"messageID,omitempty"`
	// UnknownMessageID is true when MessageID is not one of the 14 known IDs.
	UnknownMessageID bool `json:"unknownMessageID,omitempty"`
	// CallID is the normalised call id (from callID or callId).
	CallID string `json:"callId,omitempty"`
	// Direction is the normalised callType.
	Direction Direction `json:"direction,omitempty"`
	// SeenAt is when the hook saw the message, by the hook's clock, in UTC.
	SeenAt time.Time `json:"seenAt"`
	// ReceivedAt is when the relay received the message, by its clock, in UTC.
	ReceivedAt time.Time `json:"receivedAt"`
	// Params is the workbench's params object exactly as received.
	Params json.RawMessage `json:"params"`
	// Signature says whether the talk details' Sobot sign was checked and
	// held (SignatureVerified, SignatureUnverified, SignatureAbsent); set
	// on iframeParams only, and only when the relay checks signs.
	Signature string `json:"signature,omitempty"`
	// Queue is the queue of the call, when known.
	Queue *Queue `json:"queue,omitempty"`
	// Location is the customer's province and city, when known.
	Location *Location `json:"location,omitempty"`
	// Talk holds the correlated iframeParams params of the same call; it
	// is filled by the relay's correlation, never by NewEvent.
	Talk json.RawMessage `json:"talk,omitempty"`
	// Agent is what is known of the agent.
	Agent *Agent `json:"agent,omitempty"`
	// Redaction names the personal-data policy that shaped the message
	// (package redact), e.g. "none" or "strict-1a2b3c4d"; "" when unknown.
	Redaction string `json:"redaction,omitempty"`
}

// NewEvent builds the Event for a message accepted by Parse. Times are
// converted to UTC; agentSubject (which may be "") becomes Agent.Subject,
// creating Agent when the message said nothing of the agent. The Event
// shares m's Params bytes and its Queue and Location, which nothing
// modifies after Parse.
func NewEvent(m *Message, id, tenant, agentSubject string, seenAt, receivedAt time.Time) *Event {
	e := &Event{
		ID:               id,
		Tenant:           tenant,
		Type:             m.Type,
		MessageID:        m.MessageID,
		UnknownMessageID: m.Type == TypeCallBarEvent && !m.Known,
		CallID:           m.CallID,
		Direction:        m.Direction,
		SeenAt:           seenAt.UTC(),
		ReceivedAt:       receivedAt.UTC(),
		Params:           m.Params,
	}
	e.Queue, e.Location = m.Queue, m.Location
	var a Agent
	if m.Agent != nil {
		a = *m.Agent
	}
	a.Subject = agentSubject
	if a != (Agent{}) {
		e.Agent = &a
	}
	return e
}

// Via values of a Rejection: how the refused event reached the relay.
const (
	ViaWS   = "ws"
	ViaHTTP = "http"
)

// MaxRejectedRaw is the most bytes of Rejection.Raw.
const MaxRejectedRaw = 4096

// Rejection is what the relay publishes on the rejected subject for a
// refused event. Its JSON form is described by schema/rejected.schema.json.
type Rejection struct {
	// ID is the hook's id for the event, when it had one.
	ID string `json:"id,omitempty"`
	// Tenant is the tenant the event was received for.
	Tenant string `json:"tenant"`
	// Code is the machine-readable reason, an E... constant or "internal".
	Code string `json:"code"`
	// Message is the human-readable reason, without personal data.
	Message string `json:"message"`
	// Via is ViaWS or ViaHTTP.
	Via string `json:"via"`
	// SeenAt is when the hook saw the event, in UTC, when known.
	SeenAt *time.Time `json:"seenAt,omitempty"`
	// ReceivedAt is when the relay received the event, in UTC.
	ReceivedAt time.Time `json:"receivedAt"`
	// Data is the event data when it is valid JSON and not too large.
	Data json.RawMessage `json:"data,omitempty"`
	// Raw is otherwise the start of the data as text, invalid UTF-8
	// replaced by U+FFFD, at most MaxRejectedRaw bytes.
	Raw string `json:"raw,omitempty"`
	// Redaction names the personal-data policy that shaped Data (see
	// Event.Redaction); under a policy other than none, data the policy
	// cannot read field by field is left out rather than published raw.
	Redaction string `json:"redaction,omitempty"`
}

// NewRejection builds the Rejection for an event refused with err. Code
// and Message come from err when it is an *Error; any other error (or nil)
// gives code "internal" and message "internal error", so that internal
// details never reach subscribers. Data holds data when it is valid JSON
// and err is not ETooLarge; otherwise Raw holds its first bytes as text.
// Times are converted to UTC.
func NewRejection(id, tenant, via string, err error, data []byte, seenAt *time.Time, receivedAt time.Time) *Rejection {
	r := &Rejection{
		ID:         id,
		Tenant:     tenant,
		Code:       ErrorCode(err),
		Message:    ErrorMessage(err),
		Via:        via,
		ReceivedAt: receivedAt.UTC(),
	}
	if r.Code == "" {
		r.Code, r.Message = codeInternal, messageInternal
	}
	if seenAt != nil {
		t := seenAt.UTC()
		r.SeenAt = &t
	}
	if r.Code != ETooLarge && len(data) > 0 && json.Valid(data) {
		r.Data = json.RawMessage(append([]byte(nil), data...))
	} else {
		r.Raw = rawText(data, MaxRejectedRaw)
	}
	return r
}

// rawText returns the start of data as valid UTF-8 text of at most n bytes,
// cut on a rune boundary.
func rawText(data []byte, n int) string {
	if len(data) > n {
		data = data[:n]
		// Drop a rune cut in half at the end rather than replace it.
		for i := 1; i < utf8.UTFMax && i <= len(data); i++ {
			if utf8.RuneStart(data[len(data)-i]) {
				if !utf8.FullRune(data[len(data)-i:]) {
					data = data[:len(data)-i]
				}
				break
			}
		}
	}
	s := strings.ToValidUTF8(string(data), "\uFFFD")
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
