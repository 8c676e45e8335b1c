package events

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strconv"
)

// Keys of the correlation state. Every key is "<tenant>.<token>" where the
// token is made of [A-Za-z0-9_-] only, so that keys are valid NATS KV keys
// and never carry personal data in clear.

// CallKey returns the state key of a call: the tenant and the call id in
// unpadded base64url.
func CallKey(tenant, callID string) string {
	enc := base64.RawURLEncoding
	var buf [128]byte // one allocation, the string, for ordinary call ids
	b := append(buf[:0], tenant...)
	b = append(b, ".c."...)
	b = enc.AppendEncode(b, []byte(callID))
	return string(b)
}

// AgentKey returns the state key of the agent an agent-state event is
// about: its agentUUID, else its agentID, else the token subject; "" when
// none is known (the event then keeps no agent state). The identity is
// hashed, since a subject may be an email address.
func AgentKey(tenant string, m *Message, subject string) string {
	var id string
	switch {
	case m.Agent != nil && m.Agent.UUID != "":
		id = "u:" + m.Agent.UUID
	case m.Agent != nil && m.Agent.ID != "":
		id = "i:" + m.Agent.ID
	case subject != "":
		id = "s:" + subject
	default:
		return ""
	}
	return tenant + ".a." + shortDigest([]byte(id))
}

// Digest is the first 16 bytes of a SHA-256: it names a content key or a
// set of talk details without carrying them. Its text form is hex.
type Digest [16]byte

// String returns d in hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero Digest (none computed).
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText encodes d in hex.
func (d Digest) MarshalText() ([]byte, error) {
	b := make([]byte, hex.EncodedLen(len(d)))
	hex.Encode(b, d[:])
	return b, nil
}

// UnmarshalText decodes hex; anything else leaves the zero Digest, which
// never equals a computed one.
func (d *Digest) UnmarshalText(b []byte) error {
	var v Digest
	if hex.DecodedLen(len(b)) == len(v) {
		if _, err := hex.Decode(v[:], b); err == nil {
			*d = v
			return nil
		}
	}
	*d = Digest{}
	return nil
}

// ContentKey returns the digest identifying the vendor event a callBarEvent
// carries, within tenant, so that the same event reaching the relay from two
// tabs (two hooks, two ids) is published once; ok is false when the event
// does not carry enough to be identified, and must then never be treated as
// a repeat.
//
// A key needs params.companyId, params.messageID and params.creationTime,
// and something naming whose event it is: callID for talk and unknown
// events, agentID, agentUUID or thisDN for agent events. partyID, thisDN
// and referenceID are part of the key when present, so that the legs of a
// conference (same call, same millisecond, another party or device) stay
// distinct. It reads m.Params, so call it while the parsed data is valid.
func ContentKey(tenant string, m *Message) (key Digest, ok bool) {
	if m == nil || m.Type != TypeCallBarEvent || m.CreationTime <= 0 {
		return Digest{}, false
	}
	var scratch [512]byte
	b := scratch[:0]
	b = append(b, tenant...)
	b = append(b, 0)
	mark := len(b)
	b = appendText(b, m.raw(fCompanyID))
	if len(b) == mark {
		return Digest{}, false
	}
	b = append(b, 0)
	var agentID, agentUUID string
	if m.Agent != nil {
		agentID, agentUUID = m.Agent.ID, m.Agent.UUID
	}
	thisDN := m.raw(fThisDN)
	if IsAgentEvent(m.MessageID) {
		if agentID == "" && agentUUID == "" && len(appendText(nil, thisDN)) == 0 {
			return Digest{}, false
		}
	} else if m.CallID == "" {
		return Digest{}, false
	}
	b = append(b, m.MessageID...)
	b = append(b, 0)
	b = strconv.AppendInt(b, m.CreationTime, 10)
	b = append(b, 0)
	b = append(b, m.CallID...)
	b = append(b, 0)
	b = appendText(b, m.raw(fPartyID))
	b = append(b, 0)
	b = append(b, agentID...)
	b = append(b, 0)
	b = append(b, agentUUID...)
	b = append(b, 0)
	b = appendText(b, thisDN)
	b = append(b, 0)
	b = appendText(b, m.raw(fReferenceID))
	b = append(b, 0)
	return digest(b), true
}

// TalkFingerprint returns a digest of an iframeParams' params that ignores
// "sign" and "timestamp" (the workbench may re-sign the same talk details
// on every delivery), the order of the fields and insignificant whitespace.
// Two deliveries with the same fingerprint are repeats of one message.
// Parse computes it as Message.TalkPrint; this form takes params alone.
func TalkFingerprint(params []byte) Digest {
	var buf [32]member
	p := parser{d: params, members: buf[:0]}
	i := SkipSpace(params, 0)
	if i >= len(params) || params[i] != '{' {
		return digest(params)
	}
	var err error
	if p.members, _, err = p.scanParams(i); err != nil {
		return digest(params)
	}
	return p.fingerprint()
}

// fingerprint digests the members of the scanned params: their decoded
// names in sorted order, each followed by its value without white space,
// sign and timestamp left out; a repeated name counts once, its last value.
func (p *parser) fingerprint() Digest {
	ms := p.members
	names := make([]string, len(ms))
	for i, mb := range ms {
		if mb.esc {
			names[i], _ = unquote(mb.key)
		} else {
			names[i] = string(mb.key)
		}
	}
	idx := make([]int, 0, len(ms))
	for i := range ms {
		if names[i] != "sign" && names[i] != "timestamp" {
			idx = append(idx, i)
		}
	}
	// Sorted by name; among equal names the later member comes last, and
	// only the last of a run is kept.
	sort.SliceStable(idx, func(a, b int) bool { return names[idx[a]] < names[idx[b]] })
	h := sha256.New()
	var buf [512]byte
	out := buf[:0]
	flush := func() {
		h.Write(out)
		out = out[:0]
	}
	for k, i := range idx {
		if k+1 < len(idx) && names[idx[k+1]] == names[i] {
			continue
		}
		out = append(out, names[i]...)
		out = append(out, 0)
		if len(out) > len(buf)/2 {
			flush()
		}
		val := ms[i].val.of(p.d)
		inString, escaped := false, false
		for _, c := range val {
			if inString {
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
				}
			} else {
				switch c {
				case ' ', '\t', '\n', '\r':
					continue
				case '"':
					inString = true
				}
			}
			out = append(out, c)
			if len(out) == cap(out) {
				flush()
			}
		}
		out = append(out, 0)
		if len(out) > len(buf)/2 {
			flush()
		}
	}
	flush()
	var d Digest
	copy(d[:], h.Sum(nil))
	return d
}

// digest is the first 16 bytes of SHA-256.
func digest(b []byte) Digest {
	sum := sha256.Sum256(b)
	var d Digest
	copy(d[:], sum[:16])
	return d
}

// shortDigest is digest in hex, for state keys.
func shortDigest(b []byte) string {
	d := digest(b)
	return d.String()
}

// KeyDigest returns the digest of a state key, for keys that are claimed
// like content keys (e.g. a lock on a call's talk details).
func KeyDigest(key string) Digest { return digest([]byte(key)) }
