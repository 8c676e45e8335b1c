package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/callrelay/callrelay/events"
)

// frame is one client frame as the one-pass decoder found it. Raw values
// point into the frame's bytes, which the caller reuses after the frame is
// handled: nothing here outlives it, except what start copies.
type frame struct {
	typ     string
	id      []byte // raw JSON value
	seenAt  []byte // raw JSON value
	hasData bool   // data present and not null
	rawData []byte // the data value as received
	msg     *events.Message
	dataErr error // why data is not an acceptable message (a coded *events.Error)
	token   string
	session string
	client  string
}

// errFrameNotObject and friends describe frames that are not event, hello
// or batch-element objects, for the invalid_frame nack.
var errFrameNotObject = errors.New("expected a JSON object")

// decodeFrame reads a frame in one pass over its bytes: the frame's own
// fields, and the event data parsed in place by events.ScanMessage. The
// returned error describes a frame that is not a JSON object with string
// fields where strings belong, without quoting it.
func decodeFrame(d []byte, opts events.Options) (frame, error) {
	var f frame
	i := events.SkipSpace(d, 0)
	if i >= len(d) {
		return f, &events.SyntaxError{Offset: len(d)}
	}
	if d[i] != '{' {
		if _, err := events.SkipValue(d, i); err != nil {
			return f, err
		}
		return f, errFrameNotObject
	}
	it := events.NewObjectIter(d, i)
	for {
		key, esc, vstart, ok, err := it.Next()
		if err != nil {
			return f, err
		}
		if !ok {
			break
		}
		vend := 0
		switch {
		case events.KeyIs(key, esc, "data"):
			f.msg, f.dataErr, f.hasData = nil, nil, false
			if d[vstart] == 'n' { // null: no data
				vend, err = events.SkipValue(d, vstart)
				break
			}
			msg, end, serr := events.ScanMessage(d, vstart, opts)
			var syn *events.SyntaxError
			if errors.As(serr, &syn) {
				return f, serr
			}
			if serr == nil && end-vstart > maxDataBytes(opts) {
				msg, serr = nil, events.Errorf(events.ETooLarge, "data is larger than %d bytes", maxDataBytes(opts))
			}
			f.msg, f.dataErr, f.hasData, vend = msg, serr, true, end
			f.rawData = d[vstart:end]
		case events.KeyIs(key, esc, "id"):
			vend, err = events.SkipValue(d, vstart)
			f.id = d[vstart:vend]
		case events.KeyIs(key, esc, "seenAt"):
			vend, err = events.SkipValue(d, vstart)
			f.seenAt = d[vstart:vend]
		case events.KeyIs(key, esc, "type"):
			f.typ, vend, err = stringField(d, vstart, "type")

		case events.KeyIs(key, esc, "token"):
			f.token, vend, err = stringField(d, vstart, "token")
		case events.KeyIs(key, esc, "session"):
			f.session, vend, err = stringField(d, vstart, "session")
		case events.KeyIs(key, esc, "client"):
			f.client, vend, err = stringField(d, vstart, "client")
		default:
			vend, err = events.SkipValue(d, vstart)
		}
		if err != nil {
			return f, err
		}
		it.SetEnd(vend)
	}
	if j := events.SkipSpace(d, it.End()); j < len(d) {
		return f, &events.SyntaxError{Offset: j + 1}
	}
	return f, nil
}

func maxDataBytes(opts events.Options) int {
	if opts.MaxBytes <= 0 {
		return events.DefaultMaxBytes
	}
	return opts.MaxBytes
}

// fieldTypeError is a frame field of the wrong JSON type.
type fieldTypeError struct{ name string }

func (e *fieldTypeError) Error() string { return fmt.Sprintf("field %q must be a string", e.name) }

// stringField decodes the value at d[i] when it is a JSON string (null is
// ""); any other value is a fieldTypeError once it was checked.
func stringField(d []byte, i int, name string) (string, int, error) {
	end, err := events.SkipValue(d, i)
	if err != nil {
		return "", end, err
	}
	raw := d[i:end]
	if string(raw) == "null" {
		return "", end, nil
	}
	if raw[0] != '"' {
		return "", end, &fieldTypeError{name}
	}
	switch string(raw) { // the frame types, without a copy
	case `"event"`:
		return frameEvent, end, nil
	case `"hello"`:
		return frameHello, end, nil
	}
	s, ok := unquoteString(raw)
	if !ok {
		return "", end, &fieldTypeError{name}
	}
	return s, end, nil
}

// unquoteString decodes a checked JSON string value.
func unquoteString(raw []byte) (string, bool) {
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			s, err := strconv.Unquote(string(raw))
			if err == nil {
				return s, true
			}
			var out string
			if json.Unmarshal(raw, &out) == nil {
				return out, true
			}
			return "", false
		}
	}
	return string(inner), true
}

// frameErrorText describes a frame decoding error without quoting the input.
func frameErrorText(err error) string {
	var syn *events.SyntaxError
	var typ *fieldTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return typ.Error()
	case errors.Is(err, errFrameNotObject):
		return "expected a JSON object"
	default:
		return "invalid JSON"
	}
}
