// Package events owns the domain of callrelay: the messages the Sobot V6
// agent workbench posts to its parent page (iframeParams and callBarEvent),
// the 14 documented phone-bar message IDs, their validation and
// normalisation (callID/callId, callType, queue and location enrichment),
// the Event and Rejection types the relay publishes, and the NATS subject
// names they are published on.
//
// Package events is pure: it imports the standard library only, does no
// logging and no network I/O, and never reads a clock; every time it needs
// is passed in by the caller. Error messages it produces name fields and
// expected kinds, never field values, so they are safe to log and to echo
// to a browser.
package events

// Source is the value of event.data.source on every workbench message.
const Source = "agentCall"

// The two message types the workbench posts with source agentCall.
const (
	// TypeIframeParams is a talk-details message (the customer, agent and call of the current talk).
	TypeIframeParams = "iframeParams"
	// TypeCallBarEvent is a phone-bar event; params.messageID names it.
	TypeCallBarEvent = "callBarEvent"
)

// The 14 phone-bar message IDs documented by the vendor for callBarEvent.
const (
	MsgAgentReady             = "EventAgentReady"
	MsgAgentNotReady          = "EventAgentNotReady"
	MsgAgentLogin             = "EventAgentLogin"
	MsgAgentLogout            = "EventAgentLogout"
	MsgAgentConnectionChanged = "EventAgentConnectionChanged"
	MsgUnreachable            = "EventUnreachable"
	MsgUnregistered           = "EventUnregistered"
	MsgDialing                = "EventDialing"
	MsgRinging                = "EventRinging"
	MsgEstablished            = "EventEstablished"
	MsgReleased               = "EventReleased"
	MsgCallDeleted            = "EventCallDeleted"
	MsgPartyChanged           = "EventPartyChanged"
	MsgPartyDeleted           = "EventPartyDeleted"
)

// messageKind tells whether a known message ID is an agent-state or a talk event.
type messageKind uint8

const (
	kindAgent messageKind = iota + 1
	kindTalk
)

// knownIDs lists the 14 message IDs in the vendor's order.
var knownIDs = [...]string{
	MsgAgentReady, MsgAgentNotReady, MsgAgentLogin, MsgAgentLogout,
	MsgAgentConnectionChanged, MsgUnreachable, MsgUnregistered,
	MsgDialing, MsgRinging, MsgEstablished, MsgReleased,
	MsgCallDeleted, MsgPartyChanged, MsgPartyDeleted,
}

// knownIDIndex maps each known message ID to its index in knownIDs.
var knownIDIndex = func() map[string]int {
	m := make(map[string]int, len(knownIDs))
	for i, id := range knownIDs {
		m[id] = i
	}
	return m
}()

// kinds maps each known message ID to its kind.
var kinds = map[string]messageKind{
	MsgAgentReady:             kindAgent,
	MsgAgentNotReady:          kindAgent,
	MsgAgentLogin:             kindAgent,
	MsgAgentLogout:            kindAgent,
	MsgAgentConnectionChanged: kindAgent,
	MsgUnreachable:            kindAgent,
	MsgUnregistered:           kindAgent,
	MsgDialing:                kindTalk,
	MsgRinging:                kindTalk,
	MsgEstablished:            kindTalk,
	MsgReleased:               kindTalk,
	MsgCallDeleted:            kindTalk,
	MsgPartyChanged:           kindTalk,
	MsgPartyDeleted:           kindTalk,
}

// KnownMessageIDs returns the 14 documented message IDs in the vendor's
// order, agent-state events first. The slice is new on every call.
func KnownMessageIDs() []string {
	ids := make([]string, len(knownIDs))
	copy(ids, knownIDs[:])
	return ids
}

// IsKnownMessageID reports whether id is one of the 14 documented message IDs.
func IsKnownMessageID(id string) bool {
	_, ok := kinds[id]
	return ok
}

// IsTalkEvent reports whether id is one of the 7 documented talk events
// (Dialing, Ringing, Established, Released, CallDeleted, PartyChanged,
// PartyDeleted), which carry a callID.
func IsTalkEvent(id string) bool {
	return kinds[id] == kindTalk
}

// IsAgentEvent reports whether id is one of the 7 documented agent-state
// events (AgentReady, AgentNotReady, AgentLogin, AgentLogout,
// AgentConnectionChanged, Unreachable, Unregistered).
func IsAgentEvent(id string) bool {
	return kinds[id] == kindAgent
}

// maxMessageIDLen is the longest message ID accepted, in bytes.
const maxMessageIDLen = 64

// ValidMessageID reports whether id can be used as a message ID: an ASCII
// letter followed by at most 63 ASCII letters or digits, so that it is
// always a safe single NATS subject token.
func ValidMessageID(id string) bool {
	if len(id) == 0 || len(id) > maxMessageIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
