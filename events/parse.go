package events

import (
	"bytes"
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
//
// The message's Params is a sub-slice of data: it is valid as long as data
// is, and a caller that keeps it longer copies it.
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
	i := SkipSpace(data, 0)
	m, end, err := ScanMessage(data, i, opts)
	if err == nil || !isSyntax(err) {
		if j := SkipSpace(data, end); j < len(data) && end > 0 {
			err = syntaxErr(j+1, "invalid character after top-level value")
		}
	}
	if err != nil {
		var syn *SyntaxError
		if errors.As(err, &syn) {
			return nil, Errorf(EInvalidJSON, "data is not valid JSON (syntax error at byte offset %d)", syn.Offset)
		}
		return nil, err
	}
	return m, nil
}

func isSyntax(err error) bool {
	var syn *SyntaxError
	return errors.As(err, &syn)
}

// ScanMessage decodes the workbench message whose JSON value starts at
// d[i], in one pass: it checks the value's syntax, finds source, type and
// params, records where every known params field is, and validates and
// normalises the message as Parse does. It returns the index just after the
// value. A malformed value gives a *SyntaxError (end is then meaningless);
// a well-formed one that breaks a rule gives an *Error, with end set. The
// caller checks UTF-8 and size.
func ScanMessage(d []byte, i int, opts Options) (m *Message, end int, err error) {
	if i >= len(d) {
		return nil, 0, syntaxErr(len(d), "unexpected end of JSON input")
	}
	if d[i] != '{' {
		end, err := SkipValue(d, i)
		if err != nil {
			return nil, 0, err
		}
		return nil, end, Errorf(ENotObject, "data must be a JSON object")
	}
	var buf [32]member // the params' members, on the stack for the usual sizes
	p := parser{d: d, members: buf[:0]}
	var source, typ vspan
	var params vspan // the params value, whatever its kind
	it := NewObjectIter(d, i)
	for {
		key, esc, vstart, ok, err := it.Next()
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			break
		}
		var vend int
		switch {
		case KeyIs(key, esc, "source"):
			vend, err = SkipValue(d, vstart)
			source = mkspan(vstart, vend)
		case KeyIs(key, esc, "type"):
			vend, err = SkipValue(d, vstart)
			typ = mkspan(vstart, vend)
		case KeyIs(key, esc, "params"):
			if d[vstart] == '{' {
				p.members, vend, err = p.scanParams(vstart)
			} else {
				vend, err = SkipValue(d, vstart)
				p.reset()
			}
			params = mkspan(vstart, vend)
		default:
			vend, err = SkipValue(d, vstart)
		}
		if err != nil {
			return nil, 0, err
		}
		it.SetEnd(vend)
	}
	end = it.End()

	if !rawStringIs(source.of(d), Source) {
		return nil, end, Errorf(EInvalidSource, "source must be the string %q", Source)
	}
	isBar := rawStringIs(typ.of(d), TypeCallBarEvent)
	if !isBar && !rawStringIs(typ.of(d), TypeIframeParams) {
		return nil, end, Errorf(EInvalidType, "type must be %q or %q", TypeIframeParams, TypeCallBarEvent)
	}
	if params.end == 0 || d[params.start] != '{' {
		return nil, end, Errorf(EInvalidParams, "params must be an object")
	}
	m = &Message{Source: Source, Type: TypeIframeParams, Params: params.of(d), Known: true}
	if isBar {
		m.Type = TypeCallBarEvent
	}
	// Field spans are kept relative to Params.
	for f := range p.fields {
		if p.fields[f].end != 0 {
			m.fields[f] = vspan{p.fields[f].start - int32(params.start), p.fields[f].end - int32(params.start)}
		}
	}
	if m.Type == TypeCallBarEvent {
		if err := m.setMessageID(m.raw(fMessageID), opts.StrictMessageIDs); err != nil {
			return nil, end, err
		}
	}
	if err := m.checkFields(); err != nil {
		return nil, end, err
	}
	m.normalise()
	if m.Type == TypeIframeParams {
		m.TalkPrint = p.fingerprint()
	}
	return m, end, nil
}

// vspan is where a value lies: [start, end) in some byte slice; end 0
// means absent. Frames are far below 2 GiB, so 32 bits each will do.
type vspan struct{ start, end int32 }

func mkspan(start, end int) vspan { return vspan{int32(start), int32(end)} }

func (s vspan) of(d []byte) []byte {
	if s.end == 0 || int(s.end) > len(d) {
		return nil
	}
	return d[s.start:s.end]
}

// member is one member of the params object, for the talk fingerprint.
type member struct {
	key []byte
	esc bool
	val vspan
}

// parser holds what one scan of a params object found. Its members slice
// is the caller's (backed by a stack array), so that a parser does not
// escape to the heap.
type parser struct {
	d       []byte
	fields  [numFields]vspan
	members []member
}

func (p *parser) reset() {
	p.fields = [numFields]vspan{}
	p.members = p.members[:0]
}

// scanParams scans the params object at d[i], recording the spans of the
// known fields (the last one of a repeated name wins, as with
// encoding/json) and every member for the fingerprint. It returns the
// members (p.members, perhaps grown) and the end of the object.
func (p *parser) scanParams(i int) ([]member, int, error) {
	p.reset()
	it := NewObjectIter(p.d, i)
	for {
		key, esc, vstart, ok, err := it.Next()
		if err != nil {
			return p.members, 0, err
		}
		if !ok {
			return p.members, it.End(), nil
		}
		vend, err := skipValue(p.d, vstart, 1)
		if err != nil {
			return p.members, 0, err
		}
		it.SetEnd(vend)
		name := key
		if esc {
			s, _ := unquote(key)
			name = []byte(s)
		}
		if f := fieldIndex(name); f >= 0 {
			p.fields[f] = mkspan(vstart, vend)
		}
		p.members = append(p.members, member{key: key, esc: esc, val: mkspan(vstart, vend)})
	}
}

// setMessageID checks params.messageID of a callBarEvent and sets
// MessageID and Known.
func (m *Message) setMessageID(raw []byte, strict bool) error {
	if len(raw) == 0 || raw[0] == 'n' || string(raw) == `""` {
		return Errorf(EMissingMessageID, "params.messageID is required on %s", TypeCallBarEvent)
	}
	if raw[0] == '"' {
		if k, ok := knownIDIndex[string(raw[1:len(raw)-1])]; ok {
			m.MessageID, m.Known = knownIDs[k], true // a constant: no copy of the frame
			return nil
		}
	}
	id, ok := rawString(raw)
	if !ok {
		return Errorf(EInvalidMessageID, "params.messageID must be a string")
	}
	if !ValidMessageID(id) {
		return Errorf(EInvalidMessageID, "params.messageID must be a letter followed by up to 63 letters or digits")
	}
	if k := knownIndex(id); k < len(knownIDs) {
		m.MessageID = knownIDs[k]
	} else {
		m.MessageID = id
	}
	m.Known = IsKnownMessageID(id)
	if !m.Known && strict {
		return Errorf(EUnknownMessageID, "params.messageID is not one of the %d known message IDs", len(knownIDs))
	}
	return nil
}

// normalise fills the derived fields of m from its checked params. The
// texts it keeps share one allocation.
func (m *Message) normalise() {
	var scratch [256]byte
	tb := textBuilder{buf: scratch[:0]}
	first, second := fCallIDUpper, fCallIDLower
	if m.Type == TypeIframeParams {
		first, second = second, first
	}
	if !tb.add(&m.CallID, m, first) {
		tb.add(&m.CallID, m, second)
	}
	if raw := m.raw(fCallType); raw != nil {
		m.Direction = directionOf(raw)
	}
	if m.Type == TypeCallBarEvent {
		m.CreationTime = millisOf(m.raw(fCreationTime))
	}
	if m.Type == TypeCallBarEvent && m.MessageID == MsgEstablished {
		q := &m.queue
		tb.add(&q.First.UUID, m, fFirstQueueUUID)
		tb.add(&q.First.ID, m, fFirstQueueID)
		tb.add(&q.First.Name, m, fFirstQueueName)
		tb.add(&q.Last.UUID, m, fLastQueueUUID)
		tb.add(&q.Last.ID, m, fLastQueueID)
		tb.add(&q.Last.Name, m, fLastQueueName)
	}
	tb.add(&m.location.Province, m, fProvince)
	tb.add(&m.location.City, m, fCity)
	tb.add(&m.agent.ID, m, fAgentID)
	tb.add(&m.agent.UUID, m, fAgentUUID)
	if m.Type == TypeIframeParams {
		tb.add(&m.agent.Email, m, fEmail)
		c := &m.customer
		tb.add(&c.PartnerID, m, fPartnerID)
		tb.add(&c.UID, m, fUID)
		tb.add(&c.Uphone, m, fUphone)
		tb.add(&c.EncryptUphone, m, fEncryptUphone)
		tb.add(&c.Uemail, m, fUemail)
	}
	tb.finish()
	if m.queue != (Queue{}) {
		m.Queue = &m.queue
	}
	if m.location != (Location{}) {
		m.Location = &m.location
	}
	if m.agent != (Agent{}) {
		m.Agent = &m.agent
	}
	if m.customer != (Customer{}) {
		m.Customer = &m.customer
	}
}

// textBuilder gathers the texts of several fields into one string, so that
// a message costs one allocation for all of them.
type textBuilder struct {
	buf  []byte // the caller's stack array to start with
	refs [24]struct {
		dst  *string
		a, b int
	}
	n int
}

// add appends the text of field f (strings decoded, integers in decimal) and
// arranges for *dst to be set to it by finish; absent and empty fields
// leave *dst alone, and add reports false for them.
func (tb *textBuilder) add(dst *string, m *Message, f int) bool {
	raw := m.raw(f)
	if len(raw) == 0 {
		return false
	}
	a := len(tb.buf)
	tb.buf = appendText(tb.buf, raw)
	if len(tb.buf) == a {
		return false
	}
	r := &tb.refs[tb.n]
	r.dst, r.a, r.b = dst, a, len(tb.buf)
	tb.n++
	return true
}

func (tb *textBuilder) finish() {
	if tb.n == 0 {
		return
	}
	s := string(tb.buf)
	for _, r := range tb.refs[:tb.n] {
		*r.dst = s[r.a:r.b]
	}
}

// appendText appends the text of a checked text or id value: strings
// decoded, integers as their decimal form ("-0" as "0"), nothing otherwise.
func appendText(b, raw []byte) []byte {
	if len(raw) == 0 {
		return b
	}
	if raw[0] == '"' {
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return append(b, inner...)
		}
		s, _ := unquote(inner)
		return append(b, s...)
	}
	if isIntegerLiteral(raw) {
		if string(raw) == "-0" {
			return append(b, '0')
		}
		return append(b, raw...)
	}
	return b
}

// directionOf returns the Direction of a checked callType value.
func directionOf(raw []byte) Direction {
	if raw[0] == '"' {
		s, _ := rawString(raw)
		d, _ := ParseDirection(s)
		return d
	}
	if len(raw) == 1 && raw[0] >= '0' && raw[0] <= '9' {
		d, _ := directionNames[string(raw)]
		return d
	}
	return ""
}
