package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
)

// Keys of the correlation state. Every key is "<tenant>.<token>" where the
// token is made of [A-Za-z0-9_-] only, so that keys are valid NATS KV keys
// and never carry personal data in clear.

// CallKey returns the state key of a call: the tenant and the call id in
// unpadded base64url.
func CallKey(tenant, callID string) string {
	return tenant + ".c." + base64.RawURLEncoding.EncodeToString([]byte(callID))
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
	return tenant + ".a." + digest([]byte(id))
}

// contentFields are the vendor fields that identify one phone-bar event.
type contentFields struct {
	CompanyID   json.RawMessage `json:"companyId"`
	PartyID     json.RawMessage `json:"partyID"`
	ThisDN      json.RawMessage `json:"thisDN"`
	ReferenceID json.RawMessage `json:"referenceID"`
}

// ContentKey returns the key identifying the vendor event a callBarEvent
// carries, so that the same event reaching the relay from two tabs (two
// hooks, two ids) is published once; "" when the event does not carry
// enough to be identified, and must then never be treated as a repeat.
//
// A key needs params.companyId, params.messageID and params.creationTime,
// and something naming whose event it is: callID for talk and unknown
// events, agentID, agentUUID or thisDN for agent events. partyID, thisDN
// and referenceID are part of the key when present, so that the legs of a
// conference (same call, same millisecond, another party or device) stay
// distinct.
func ContentKey(tenant string, m *Message) string {
	if m == nil || m.Type != TypeCallBarEvent || m.CreationTime <= 0 {
		return ""
	}
	var f contentFields
	if err := json.Unmarshal(m.Params, &f); err != nil {
		return ""
	}
	company := idText(f.CompanyID)
	if company == "" {
		return ""
	}
	var agentID, agentUUID string
	if m.Agent != nil {
		agentID, agentUUID = m.Agent.ID, m.Agent.UUID
	}
	thisDN := idText(f.ThisDN)
	if IsAgentEvent(m.MessageID) {
		if agentID == "" && agentUUID == "" && thisDN == "" {
			return ""
		}
	} else if m.CallID == "" {
		return ""
	}
	var b bytes.Buffer
	for _, s := range []string{
		company, m.MessageID, strconv.FormatInt(m.CreationTime, 10), m.CallID,
		idText(f.PartyID), agentID, agentUUID, thisDN, idText(f.ReferenceID),
	} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return tenant + ".k." + digest(b.Bytes())
}

// TalkFingerprint returns a digest of an iframeParams' params that ignores
// "sign" and "timestamp" (the workbench may re-sign the same talk details
// on every delivery), the order of the fields and insignificant whitespace.
// Two deliveries with the same fingerprint are repeats of one message.
func TalkFingerprint(params json.RawMessage) string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(params, &fields); err != nil {
		return digest(params)
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		if k != "sign" && k != "timestamp" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(0)
		if err := json.Compact(&b, fields[k]); err != nil {
			b.Write(fields[k])
		}
		b.WriteByte(0)
	}
	return digest(b.Bytes())
}

// partyOf returns params.partyID as text, "" when absent.
func partyOf(params json.RawMessage) string {
	if !bytes.Contains(params, []byte(`"partyID"`)) {
		return ""
	}
	var f contentFields
	if err := json.Unmarshal(params, &f); err != nil {
		return ""
	}
	return idText(f.PartyID)
}

// rawText returns a checked id field as text ("" when absent or null).
func idText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	return textOf(map[string]json.RawMessage{"v": raw}, "v")
}

// digest is the first 16 bytes of SHA-256 in hex.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
