package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/callrelay/callrelay/events"
)

// PseudonymPrefix starts every pseudonym, so that a reader can tell one
// from a value.
const PseudonymPrefix = "pn_"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Pseudonym returns the pseudonym of value: PseudonymPrefix and the first
// 120 bits of HMAC-SHA256(key, value), in lower-case base32 (27
// characters in all). It does not depend on the field the value came from,
// so a phone number pseudonymised as uphone joins with the same number
// pseudonymised as ANI.
func (p *Policy) Pseudonym(value string) string {
	return string(p.appendPseudonym(nil, value))
}

func (p *Policy) appendPseudonym(b []byte, value string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(value))
	var sum [sha256.Size]byte
	d := m.Sum(sum[:0])
	var enc [24]byte
	b32.Encode(enc[:], d[:15])
	for i, c := range enc {
		if c >= 'A' && c <= 'Z' {
			enc[i] = c + ('a' - 'A')
		}
	}
	b = append(b, PseudonymPrefix...)
	return append(b, enc[:]...)
}

// Masked returns value with all but its first head and last tail
// characters replaced by '*'; a value no longer than head+tail is masked
// whole.
func Masked(value string, head, tail int) string {
	n := utf8.RuneCountInString(value)
	if n <= head+tail {
		head, tail = 0, 0
	}
	out := make([]byte, 0, len(value))
	i := 0
	for _, r := range value {
		if i < head || i >= n-tail {
			out = utf8.AppendRune(out, r)
		} else {
			out = append(out, '*')
		}
		i++
	}
	return string(out)
}

// ErrNotObject is returned by Params for params that are not a JSON object.
var ErrNotObject = errors.New("params is not a JSON object")

// Params appends to dst the params object with the policy applied to each
// member, in the order received; members kept are copied byte for byte.
// params must be valid JSON (the relay parsed it before).
func (p *Policy) Params(dst, params []byte) ([]byte, error) {
	i := events.SkipSpace(params, 0)
	if i >= len(params) || params[i] != '{' {
		return dst, ErrNotObject
	}
	dst = append(dst, '{')
	first := true
	it := events.NewObjectIter(params, i)
	for {
		key, esc, vstart, ok, err := it.Next()
		if err != nil {
			return dst, err
		}
		if !ok {
			break
		}
		vend, err := events.SkipValue(params, vstart)
		if err != nil {
			return dst, err
		}
		it.SetEnd(vend)
		name := string(key)
		if esc {
			if name, ok = unquoteKey(key); !ok {
				return dst, errors.New("params has a malformed key")
			}
		}
		r := p.rule(name)
		if r.Action == Drop {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, key...)
		dst = append(dst, '"', ':')
		dst = p.appendValue(dst, params[vstart:vend], r)
	}
	return append(dst, '}'), nil
}

// appendValue appends raw (one JSON value) with rule r applied. null stays
// null whatever the rule: it says the field is empty, nothing more.
func (p *Policy) appendValue(dst, raw []byte, r Rule) []byte {
	if r.Action == Keep || string(raw) == "null" {
		return append(dst, raw...)
	}
	text := string(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			text = s
		}
	}
	switch r.Action {
	case Mask:
		q, _ := json.Marshal(Masked(text, r.Head, r.Tail))
		return append(dst, q...)
	case Pseudonym:
		dst = append(dst, '"')
		dst = p.appendPseudonym(dst, text)
		return append(dst, '"')
	}
	return append(dst, raw...)
}

// Subject returns the token subject as the policy publishes it ("" when
// dropped).
func (p *Policy) Subject(sub string) string {
	if p == nil || sub == "" {
		return sub
	}
	switch r := p.spec.AgentSubject; r.Action {
	case Drop:
		return ""
	case Mask:
		return Masked(sub, r.Head, r.Tail)
	case Pseudonym:
		return p.Pseudonym(sub)
	}
	return sub
}

// Data appends to dst the workbench message data (event.data) with the
// policy applied to its params: {"source":..,"type":..,"params":{..}} with
// every other member copied as received. ok is false when data is not a
// JSON object whose params is an object; the caller then publishes nothing
// of it.
func (p *Policy) Data(dst, data []byte) (out []byte, ok bool) {
	i := events.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '{' || !json.Valid(data) {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, '{')
	first, sawParams := true, false
	it := events.NewObjectIter(data, i)
	for {
		key, esc, vstart, more, err := it.Next()
		if err != nil {
			return dst[:start], false
		}
		if !more {
			break
		}
		vend, err := events.SkipValue(data, vstart)
		if err != nil {
			return dst[:start], false
		}
		it.SetEnd(vend)
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, key...)
		dst = append(dst, '"', ':')
		if events.KeyIs(key, esc, "params") {
			sawParams = true
			if dst, err = p.Params(dst, data[vstart:vend]); err != nil {
				return dst[:start], false
			}
			continue
		}
		dst = append(dst, data[vstart:vend]...)
	}
	if !sawParams {
		return dst[:start], false
	}
	return append(dst, '}'), true
}

func unquoteKey(raw []byte) (string, bool) {
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", false
	}
	return s, true
}
