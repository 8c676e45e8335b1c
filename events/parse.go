package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Parse decodes, validates and normalises one workbench message; data is
// the JSON of the workbench's event.data. Every failure is an *Error whose
// Code tells which rule failed, checked in this order: size (ETooLarge),
// encoding (EInvalidUTF8), syntax (EInvalidJSON), shape (ENotObject),
// source (EInvalidSource), type (EInvalidType), params (EInvalidParams),
// the callBarEvent message ID (EMissingMessageID, EInvalidMessageID,
// EUnknownMessageID) and the types of the known params fields
// (EInvalidField). Every params field is optional and may be null; custom
// fields are never checked.
func Parse(data []byte, opts Options) (*Message, error) {
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(data) > maxBytes {
		return nil, Errorf(ETooLarge, "data is larger than %d bytes", maxBytes)
	}
	if !utf8.Valid(data) {
		return nil, Errorf(EInvalidUTF8, "data is not valid UTF-8")
	}
	top, err := decodeObject(data)
	if err != nil {
		return nil, err
	}

	if s, ok := rawString(top["source"]); !ok || s != Source {
		return nil, Errorf(EInvalidSource, "source must be the string %q", Source)
	}
	typ, ok := rawString(top["type"])
	if !ok || (typ != TypeIframeParams && typ != TypeCallBarEvent) {
		return nil, Errorf(EInvalidType, "type must be %q or %q", TypeIframeParams, TypeCallBarEvent)
	}
	rawParams := bytes.TrimSpace(top["params"])
	if len(rawParams) == 0 || rawParams[0] != '{' {
		return nil, Errorf(EInvalidParams, "params must be an object")
	}
	var params map[string]json.RawMessage
	if err := json.Unmarshal(rawParams, &params); err != nil {
		// Unreachable for valid JSON starting with '{'; kept as a guard.
		return nil, Errorf(EInvalidParams, "params must be an object")
	}

	m := &Message{Source: Source, Type: typ, Params: json.RawMessage(rawParams), Known: true}
	if typ == TypeCallBarEvent {
		if err := m.setMessageID(params["messageID"], opts.StrictMessageIDs); err != nil {
			return nil, err
		}
	}
	if err := checkFields(params); err != nil {
		return nil, err
	}
	m.normalise(params)
	return m, nil
}

// decodeObject decodes data as a JSON object into its raw members.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	err := json.Unmarshal(data, &top)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return nil, Errorf(EInvalidJSON, "data is not valid JSON (syntax error at byte offset %d)", syntax.Offset)
	case err != nil, top == nil:
		// A valid JSON value that is not an object (null leaves top nil).
		return nil, Errorf(ENotObject, "data must be a JSON object")
	}
	return top, nil
}

// setMessageID checks params.messageID of a callBarEvent and sets
// MessageID and Known.
func (m *Message) setMessageID(raw json.RawMessage, strict bool) error {
	if len(raw) == 0 || raw[0] == 'n' || string(raw) == `""` {
		return Errorf(EMissingMessageID, "params.messageID is required on %s", TypeCallBarEvent)
	}
	id, ok := rawString(raw)
	if !ok {
		return Errorf(EInvalidMessageID, "params.messageID must be a string")
	}
	if !ValidMessageID(id) {
		return Errorf(EInvalidMessageID, "params.messageID must be a letter followed by up to 63 letters or digits")
	}
	m.MessageID = id
	m.Known = IsKnownMessageID(id)
	if !m.Known && strict {
		return Errorf(EUnknownMessageID, "params.messageID is not one of the %d known message IDs", len(knownIDs))
	}
	return nil
}

// normalise fills the derived fields of m from its checked params.
func (m *Message) normalise(params map[string]json.RawMessage) {
	first, second := "callID", "callId"
	if m.Type == TypeIframeParams {
		first, second = second, first
	}
	m.CallID = textOf(params, first)
	if m.CallID == "" {
		m.CallID = textOf(params, second)
	}

	if raw, ok := params["callType"]; ok {
		m.Direction = directionOf(raw)
	}

	if m.Type == TypeCallBarEvent {
		m.CreationTime = millisOf(params, "creationTime")
	}
	if m.Type == TypeCallBarEvent && m.MessageID == MsgEstablished {
		m.Queue = queueOf(params)
	}

	loc := Location{Province: textOf(params, "province"), City: textOf(params, "city")}
	if loc != (Location{}) {
		m.Location = &loc
	}

	agent := Agent{ID: textOf(params, "agentID"), UUID: textOf(params, "agentUUID")}
	if m.Type == TypeIframeParams {
		agent.Email = textOf(params, "email")
	}
	if agent != (Agent{}) {
		m.Agent = &agent
	}

	if m.Type == TypeIframeParams {
		c := Customer{
			PartnerID:     textOf(params, "partnerId"),
			UID:           textOf(params, "uid"),
			Uphone:        textOf(params, "uphone"),
			EncryptUphone: textOf(params, "encryptUphone"),
			Uemail:        textOf(params, "uemail"),
		}
		if c != (Customer{}) {
			m.Customer = &c
		}
	}
}

// directionOf returns the Direction of a checked callType value.
func directionOf(raw json.RawMessage) Direction {
	var v any
	if raw[0] == '"' {
		s, _ := rawString(raw)
		v = s
	} else if isIntegerLiteral(raw) {
		v = json.Number(raw)
	}
	d, _ := ParseDirection(v)
	return d
}

// queueOf returns the queue fields of params, nil when all are empty.
func queueOf(params map[string]json.RawMessage) *Queue {
	q := Queue{
		First: QueueRef{
			UUID: textOf(params, "firstDistributedQueueUUID"),
			ID:   textOf(params, "firstDistributedQueueId"),
			Name: textOf(params, "firstDistributedQueueName"),
		},
		Last: QueueRef{
			UUID: textOf(params, "lastDistributedQueueUUID"),
			ID:   textOf(params, "lastDistributedQueueId"),
			Name: textOf(params, "lastDistributedQueueName"),
		},
	}
	if q == (Queue{}) {
		return nil
	}
	return &q
}
