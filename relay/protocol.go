package relay

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Frame types of the wire protocol (docs/protocol.md).
const (
	frameHello   = "hello"
	frameWelcome = "welcome"
	frameEvent   = "event"
	frameAck     = "ack"
	frameNack    = "nack"
)

// Ack statuses.
const (
	StatusPublished = "published"
	StatusDuplicate = "duplicate"
)

// inFrame is any client frame. Fields are kept raw so that a frame with a
// wrongly typed field still yields its id for the nack.
type inFrame struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id"`
	SeenAt  json.RawMessage `json:"seenAt"`
	Data    json.RawMessage `json:"data"`
	Token   string          `json:"token"`
	Session string          `json:"session"`
	Client  string          `json:"client"`
}

// Result is the relay's answer to one event: an ack when Code is empty,
// otherwise a nack. It marshals to the ack or nack frame.
type Result struct {
	ID      string
	Status  string // ack: published or duplicate
	Code    string // nack
	Message string // nack
	Retry   bool   // nack
}

// Acked reports whether r is an ack.
func (r Result) Acked() bool { return r.Code == "" }

// MarshalJSON renders r as the ack or nack frame (the same bytes the
// WebSocket writes; see appendJSON).
func (r Result) MarshalJSON() ([]byte, error) { return r.appendJSON(nil), nil }

// appendJSON appends the ack or nack frame of r: the one encoder of
// answers, for the WebSocket and (through MarshalJSON) for POST results.
func (r Result) appendJSON(b []byte) []byte {
	if r.Acked() {
		b = append(b, `{"type":"ack","id":`...)
		b = appendJSONString(b, r.ID)
		b = append(b, `,"status":`...)
		b = appendJSONString(b, r.Status)
		return append(b, '}')
	}
	b = append(b, `{"type":"nack"`...)
	if r.ID != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, r.ID)
	}
	b = append(b, `,"code":`...)
	b = appendJSONString(b, r.Code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, r.Message)
	b = append(b, `,"retry":`...)
	b = strconv.AppendBool(b, r.Retry)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: directly when it needs no
// escaping (ids, codes and messages are plain ASCII), through
// encoding/json otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// nack builds a nack Result for code, with the retry flag from the code table.
func nack(id, code, message string) Result {
	return Result{ID: id, Code: code, Message: message, Retry: retryable(code)}
}

// welcome answers a hello.
type welcome struct {
	Type            string `json:"type"`
	Session         string `json:"session,omitempty"`
	MaxMessageBytes int    `json:"maxMessageBytes"`
	Version         string `json:"version"`
}

const maxIDLen = 128

// parseID returns the event id if raw is a JSON string of 1 to 128 characters
// from A-Z a-z 0-9 . _ : -. echo is what may be sent back in the nack when the
// id is invalid: the string if it is one and not overly long, else "".
func parseID(raw []byte) (id, echo string, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' {
		return "", "", false
	}
	inner := raw[1 : len(raw)-1]
	if len(inner) >= 1 && len(inner) <= maxIDLen && validIDBytes(inner) {
		id = string(inner) // the one copy of the id
		return id, id, true
	}
	s, ok := unquoteString(raw)
	if !ok {
		return "", "", false
	}
	if len(s) <= 2*maxIDLen {
		echo = s
	}
	if !validID(s) {
		return "", echo, false
	}
	return s, s, true
}

func validIDBytes(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// parseSeenAt accepts an RFC 3339 string or an integer of milliseconds since
// the epoch.
func parseSeenAt(raw []byte) (time.Time, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, false
	}
	if raw[0] == '"' {
		s, ok := unquoteString(raw)
		if !ok {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		return t.UTC(), err == nil
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}
