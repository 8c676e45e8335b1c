package events

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The published messages are encoded by hand, field by field in the order
// of their struct declarations: encoding/json's reflection was a fifth of
// the relay's CPU per event. MarshalJSON uses the same code, so json.Marshal
// and the relay publish the same bytes; a test checks both against the
// reflection encoding.

// MarshalJSON encodes e as AppendJSON does.
func (e *Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// AppendJSON appends the JSON of e to b. Params and Talk are appended as
// received: they were checked to be JSON objects when they were parsed.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"tenant":`...)
	b = appendString(b, e.Tenant)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	if e.MessageID != "" {
		b = append(b, `,"messageID":`...)
		b = appendString(b, e.MessageID)
	}
	if e.UnknownMessageID {
		b = append(b, `,"unknownMessageID":true`...)
	}
	if e.CallID != "" {
		b = append(b, `,"callId":`...)
		b = appendString(b, e.CallID)
	}
	if e.Direction != "" {
		b = append(b, `,"direction":`...)
		b = appendString(b, string(e.Direction))
	}
	b = append(b, `,"seenAt":`...)
	b = appendTime(b, e.SeenAt)
	b = append(b, `,"receivedAt":`...)
	b = appendTime(b, e.ReceivedAt)
	b = append(b, `,"params":`...)
	b = appendRaw(b, e.Params)
	if e.Signature != "" {
		b = append(b, `,"signature":`...)
		b = appendString(b, e.Signature)
	}
	if e.Queue != nil {
		b = append(b, `,"queue":`...)
		b = e.Queue.appendJSON(b)
	}
	if e.Location != nil {
		b = append(b, `,"location":`...)
		b = e.Location.appendJSON(b)
	}
	if len(e.Talk) > 0 {
		b = append(b, `,"talk":`...)
		b = appendRaw(b, e.Talk)
	}
	if e.Agent != nil {
		b = append(b, `,"agent":`...)
		b = e.Agent.appendJSON(b)
	}
	if e.Redaction != "" {
		b = append(b, `,"redaction":`...)
		b = appendString(b, e.Redaction)
	}
	return append(b, '}')
}

// MarshalJSON encodes c as AppendJSON does.
func (c *Call) MarshalJSON() ([]byte, error) { return c.AppendJSON(nil), nil }

// AppendJSON appends the JSON of c to b.
func (c *Call) AppendJSON(b []byte) []byte {
	b = append(b, `{"tenant":`...)
	b = appendString(b, c.Tenant)
	b = append(b, `,"callId":`...)
	b = appendString(b, c.CallID)
	if c.State != "" {
		b = append(b, `,"state":`...)
		b = appendString(b, string(c.State))
	}
	if c.Direction != "" {
		b = append(b, `,"direction":`...)
		b = appendString(b, string(c.Direction))
	}
	if c.Agent != nil {
		b = append(b, `,"agent":`...)
		b = c.Agent.appendJSON(b)
	}
	if c.Customer != nil {
		b = append(b, `,"customer":`...)
		b = c.Customer.appendJSON(b)
	}
	if c.Queue != nil {
		b = append(b, `,"queue":`...)
		b = c.Queue.appendJSON(b)
	}
	if c.Location != nil {
		b = append(b, `,"location":`...)
		b = c.Location.appendJSON(b)
	}
	for _, t := range [...]struct {
		name string
		at   *time.Time
	}{{"dialingAt", c.DialingAt}, {"ringingAt", c.RingingAt}, {"establishedAt", c.EstablishedAt}, {"releasedAt", c.ReleasedAt}, {"endedAt", c.EndedAt}} {
		if t.at != nil {
			b = append(b, ',', '"')
			b = append(b, t.name...)
			b = append(b, '"', ':')
			b = appendTime(b, *t.at)
		}
	}
	if c.RingSeconds != nil {
		b = append(b, `,"ringSeconds":`...)
		b = appendFloat(b, *c.RingSeconds)
	}
	if c.TalkSeconds != nil {
		b = append(b, `,"talkSeconds":`...)
		b = appendFloat(b, *c.TalkSeconds)
	}
	b = append(b, `,"talkDetails":`...)
	b = strconv.AppendBool(b, c.TalkDetails)
	b = append(b, `,"messageIDs":[`...)
	for i, id := range c.MessageIDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, id)
	}
	b = append(b, ']')
	if len(c.Parties) > 0 {
		b = append(b, `,"parties":[`...)
		for i, p := range c.Parties {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, p)
		}
		b = append(b, ']')
	}
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, c.Revision, 10)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, c.UpdatedAt)
	if c.Redaction != "" {
		b = append(b, `,"redaction":`...)
		b = appendString(b, c.Redaction)
	}
	return append(b, '}')
}

func (q *Queue) appendJSON(b []byte) []byte {
	b = append(b, `{"first":`...)
	b = q.First.appendJSON(b)
	b = append(b, `,"last":`...)
	b = q.Last.appendJSON(b)
	return append(b, '}')
}

func (r QueueRef) appendJSON(b []byte) []byte {
	return appendFields(b, "uuid", r.UUID, "id", r.ID, "name", r.Name)
}

func (l *Location) appendJSON(b []byte) []byte {
	return appendFields(b, "province", l.Province, "city", l.City)
}

func (a *Agent) appendJSON(b []byte) []byte {
	return appendFields(b, "subject", a.Subject, "email", a.Email, "id", a.ID, "uuid", a.UUID)
}

func (c *Customer) appendJSON(b []byte) []byte {
	return appendFields(b, "partnerId", c.PartnerID, "uid", c.UID, "uphone", c.Uphone,
		"encryptUphone", c.EncryptUphone, "uemail", c.Uemail)
}

// appendFields appends an object of the non-empty string fields given as
// name, value pairs (the omitempty rule).
func appendFields(b []byte, kv ...string) []byte {
	b = append(b, '{')
	first := true
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, kv[i]...)
		b = append(b, '"', ':')
		b = appendString(b, kv[i+1])
	}
	return append(b, '}')
}

// appendRaw appends checked JSON, or null when there is none.
func appendRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendTime appends t as an RFC 3339 string with nanoseconds, as
// time.Time's MarshalJSON does.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat appends f as encoding/json does for float64.
func appendFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping as encoding/json does:
// quotes, backslashes, control characters, <, > and &, U+2028 and U+2029,
// and invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
