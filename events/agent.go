package events

import "time"

// AgentState is what the agent-state events say an agent is doing. The
// seven agent events map onto five states:
//
//	EventAgentLogin              logged_in (logged in, neither ready nor not ready yet)
//	EventAgentReady              ready
//	EventAgentNotReady           not_ready
//	EventAgentLogout             logged_out
//	EventUnreachable             unreachable
//	EventUnregistered            unreachable (the phone is no longer registered)
//	EventAgentConnectionChanged  no change (logged_in when nothing is known yet)
type AgentState string

// The agent states.
const (
	AgentLoggedIn    AgentState = "logged_in"
	AgentReady       AgentState = "ready"
	AgentNotReady    AgentState = "not_ready"
	AgentLoggedOut   AgentState = "logged_out"
	AgentUnreachable AgentState = "unreachable"
)

// AgentStates returns the five agent states. The slice is new on every call.
func AgentStates() []AgentState {
	return []AgentState{AgentLoggedIn, AgentReady, AgentNotReady, AgentLoggedOut, AgentUnreachable}
}

// AgentStateOf returns the state an agent-state message ID sets; ok is false
// for EventAgentConnectionChanged and every other ID.
func AgentStateOf(messageID string) (s AgentState, ok bool) {
	switch messageID {
	case MsgAgentLogin:
		return AgentLoggedIn, true
	case MsgAgentReady:
		return AgentReady, true
	case MsgAgentNotReady:
		return AgentNotReady, true
	case MsgAgentLogout:
		return AgentLoggedOut, true
	case MsgUnreachable, MsgUnregistered:
		return AgentUnreachable, true
	}
	return "", false
}

// AgentRecord is the state kept per agent. It is stored as JSON in the
// shared state; treat it as opaque.
type AgentRecord struct {
	State AgentState `json:"state,omitempty"`
	// At is the time (ms) of the event that set State: its creationTime,
	// else the hook's seenAt.
	At int64 `json:"at,omitempty"`
	// Updated is when the relay last changed the record (ms, relay clock).
	Updated int64 `json:"updated"`
}

// Apply applies an agent-state event seen at seenAt and reports whether
// the record changed. An event older than the one that set the current
// state (by creationTime) does not change it.
func (r *AgentRecord) Apply(m *Message, seenAt time.Time) bool {
	t := m.CreationTime
	if t <= 0 {
		t = seenAt.UnixMilli()
	}
	s, ok := AgentStateOf(m.MessageID)
	if !ok {
		if m.MessageID != MsgAgentConnectionChanged || r.State != "" {
			return false
		}
		s = AgentLoggedIn
	}
	if r.State != "" && t < r.At {
		return false
	}
	if r.State == s && r.At == t {
		return false
	}
	r.State, r.At = s, t
	return true
}
