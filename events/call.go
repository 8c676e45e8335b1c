package events

import (
	"encoding/json"
	"math/bits"
	"sort"
	"time"
)

// CallState is where a call stands. States only move forward, in the order
// dialing < ringing < established < released < ended, whatever order the
// phone-bar events arrive in.
type CallState string

// The five call states, from the phone-bar events that set them.
const (
	// CallDialing is set by EventDialing.
	CallDialing CallState = "dialing"
	// CallRinging is set by EventRinging.
	CallRinging CallState = "ringing"
	// CallEstablished is set by EventEstablished.
	CallEstablished CallState = "established"
	// CallReleased is set by EventReleased.
	CallReleased CallState = "released"
	// CallEnded is set by EventCallDeleted.
	CallEnded CallState = "ended"
)

// callStates lists the states in order; a state's rank is its index + 1.
var callStates = [...]CallState{CallDialing, CallRinging, CallEstablished, CallReleased, CallEnded}

// CallStates returns the five call states in order. The slice is new on every call.
func CallStates() []CallState {
	s := make([]CallState, len(callStates))
	copy(s, callStates[:])
	return s
}

// Rank returns the position of s in the state order, 1 (dialing) to 5
// (ended), and 0 for the empty state (a call known only from its talk details).
func (s CallState) Rank() int {
	for i, c := range callStates {
		if c == s {
			return i + 1
		}
	}
	return 0
}

// CallStateOf returns the state a phone-bar message ID moves a call to; ok is
// false for message IDs that do not change the state (EventPartyChanged,
// EventPartyDeleted, agent events, unknown IDs).
func CallStateOf(messageID string) (s CallState, ok bool) {
	switch messageID {
	case MsgDialing:
		return CallDialing, true
	case MsgRinging:
		return CallRinging, true
	case MsgEstablished:
		return CallEstablished, true
	case MsgReleased:
		return CallReleased, true
	case MsgCallDeleted:
		return CallEnded, true
	}
	return "", false
}

// IsCallMessage reports whether m is part of a call's story: an iframeParams
// or a phone-bar event that is not an agent-state event, with a call id.
func IsCallMessage(m *Message) bool {
	return m != nil && m.CallID != "" && !(m.Type == TypeCallBarEvent && IsAgentEvent(m.MessageID))
}

// Bounds of a CallRecord's lists, so that a hostile or broken client cannot
// grow one record without limit.
const (
	MaxCallMessageIDs = 32
	MaxCallParties    = 32
)

// Sides of a call the correlation has seen.
const (
	sideTalk  uint8 = 1 << iota // an iframeParams
	sideEvent                   // a phone-bar event
)

// Durations observed for the histograms (each once per call).
const (
	observedRing uint8 = 1 << iota
	observedTalk
)

// CallRecord is the correlation state of one call: what the Call view is
// built from, plus the talk details' params for enriching events, the
// fingerprint used to suppress repeats, and bookkeeping. It is stored as JSON
// in the shared state, so its fields are exported; treat it as opaque.
//
// A CallRecord is not safe for concurrent use. Apply never modifies the
// Queue, Location, Talk or Parties values it points to (it replaces them),
// so a copy of the struct (Clone) is another owner's own record: a
// transaction applies an event to a copy and commits the copy or drops it.
type CallRecord struct {
	CallID     string          `json:"callId"`
	State      CallState       `json:"state,omitempty"`
	Direction  Direction       `json:"dir,omitempty"`
	Agent      Agent           `json:"agent,omitzero"`
	Customer   *Customer       `json:"cust,omitempty"` // absent until talk details: most calls' records stay small
	Queue      *Queue          `json:"queue,omitempty"`
	QueueAt    int64           `json:"queueAt,omitempty"`
	Location   *Location       `json:"loc,omitempty"`
	Times      [5]int64        `json:"times"` // ms since the epoch, by state rank - 1; 0 unknown
	MessageIDs MessageIDSet    `json:"mids,omitzero"`
	Parties    []string        `json:"parties,omitempty"` // copy-on-write: never modified in place
	Talk       json.RawMessage `json:"talk,omitempty"`    // the record's own copy of the talk details' params
	TalkPrint  Digest          `json:"talkPrint,omitzero"`
	// Owner is the token subject whose talk details Talk and Customer hold
	// (the first subject that sent talk details for the call); "" without
	// client tokens. Legs are the subjects that sent anything for the call
	// (with tokens only): other subjects' own talk details, attached only
	// to their own events, and how far each subject's leg went.
	Owner    string `json:"owner,omitempty"`
	Legs     []Leg  `json:"legs,omitempty"`
	Revision uint64 `json:"rev"`
	Created  int64  `json:"created"` // ms, time of the event that created the record
	Updated  int64  `json:"updated"` // relay ms of the last change
	// The small fields together, so that they share one word.
	DirFromTalk bool  `json:"dirTalk,omitempty"`
	LocFromEst  bool  `json:"locEst,omitempty"`
	Sides       uint8 `json:"sides,omitempty"`
	Observed    uint8 `json:"obs,omitempty"`
}

// MaxCallLegs bounds the token subjects one call tracks (an agent, a
// transfer target, a consulted colleague...); a subject beyond it is
// correlated as if it had no talk details of its own.
const MaxCallLegs = 8

// Leg is one token subject's side of a call (agent-scoped correlation,
// docs/callview.md): the state its own phone-bar events reached and, for a
// subject other than the record's Owner, its own talk details. A Leg is
// never modified in place: records that share one replace it.
type Leg struct {
	Subject string          `json:"s"`
	Rank    int             `json:"r,omitempty"` // the rank of the furthest state its events reached
	Talk    json.RawMessage `json:"talk,omitempty"`
	Print   Digest          `json:"print,omitzero"`
}

// leg returns the index of subject's leg, -1 when it has none.
func (r *CallRecord) leg(subject string) int {
	for i := range r.Legs {
		if r.Legs[i].Subject == subject {
			return i
		}
	}
	return -1
}

// setLeg stores l as subject's leg, replacing the list (copies of the record
// share it); false when the record has no room for another subject.
func (r *CallRecord) setLeg(l Leg) bool {
	i := r.leg(l.Subject)
	if i < 0 && len(r.Legs) >= MaxCallLegs {
		return false
	}
	n := make([]Leg, len(r.Legs), len(r.Legs)+1)
	copy(n, r.Legs)
	if i < 0 {
		n = append(n, l)
	} else {
		n[i] = l
	}
	r.Legs = n
	return true
}

// legState is the call's state with several subjects: while any subject's
// leg has not been released, the furthest state of those still going (a
// transfer target talking keeps the call established after the first agent
// released it; another agent's EventCallDeleted does not end it); once
// every leg is released, the furthest state of all.
func (r *CallRecord) legState() CallState {
	going, all := 0, 0
	for _, l := range r.Legs {
		all = max(all, l.Rank)
		if l.Rank > 0 && l.Rank < CallReleased.Rank() {
			going = max(going, l.Rank)
		}
	}
	rank := all
	if going > 0 {
		rank = going
	}
	if rank == 0 {
		return ""
	}
	return callStates[rank-1]
}

// NewCallRecord returns the empty record of callID.
func NewCallRecord(callID string) *CallRecord {
	return &CallRecord{CallID: callID}
}

// Clone returns a copy of r that shares no mutable memory with it (the
// values it shares are never modified in place).
func (r *CallRecord) Clone() *CallRecord {
	c := *r
	return &c
}

// Met reports whether both the talk details and a phone-bar event of the call have been seen.
func (r *CallRecord) Met() bool { return r.Sides == sideTalk|sideEvent }

// CallInput is one accepted message applied to a call.
type CallInput struct {
	// Msg is the parsed message; IsCallMessage(Msg) must be true.
	Msg *Message
	// AgentSubject is the subject of the client's token, if any.
	AgentSubject string
	// SeenAt is the hook's time; it orders events without a creationTime.
	SeenAt time.Time
}

// CallChange reports what Apply did.
type CallChange struct {
	// Changed is true when the view changed and must be published again.
	Changed bool
	// Repeat is true for an iframeParams whose fingerprint equals the talk
	// details already applied: nothing changed and the message should not
	// be published again.
	Repeat bool
	// Met is true when this message made the two sides meet;
	// TalkFirst tells which side came first.
	Met       bool
	TalkFirst bool
	// From and To are the states before and after.
	From, To CallState
	// Ring and Talk are the durations that became known for the first
	// time (RingKnown, TalkKnown), for the histograms.
	Ring, Talk           time.Duration
	RingKnown, TalkKnown bool
}

// eventTime is the time of m: its creationTime, else the hook's seenAt.
func eventTime(in CallInput) int64 {
	if in.Msg.CreationTime > 0 {
		return in.Msg.CreationTime
	}
	return in.SeenAt.UnixMilli()
}

// Apply merges one message into the record and reports what changed. It is
// idempotent (applying the same message twice changes nothing the second
// time) and order-independent: applying a set of messages in any order
// gives the same record, except for Revision, Created and Updated, which
// the caller maintains. The state never moves backwards.
func (r *CallRecord) Apply(in CallInput) CallChange {
	m := in.Msg
	ch := CallChange{From: r.State, To: r.State}
	subject := in.AgentSubject
	if m.Type == TypeIframeParams {
		print := m.TalkPrint
		if print.IsZero() {
			print = TalkFingerprint(m.Params)
		}
		if subject != "" && r.Sides&sideTalk != 0 && subject != r.Owner {
			// Another agent's talk details (a transfer, a consultation):
			// kept for that agent's own events; the view's customer stays
			// its owner's.
			return r.applyOtherTalk(subject, m.Params, print)
		}
		if r.Sides&sideTalk != 0 && print == r.TalkPrint {
			ch.Repeat = true
			return ch
		}
		// Params lies in the caller's frame: the record keeps its own copy.
		r.Talk, r.TalkPrint = append(json.RawMessage(nil), m.Params...), print
		r.Owner = subject
		if subject != "" && r.leg(subject) < 0 {
			r.setLeg(Leg{Subject: subject})
		}
		if m.Customer != nil {
			c := *m.Customer
			r.Customer = &c
		} else {
			r.Customer = nil
		}
		if m.Direction != "" && (r.Direction != m.Direction || !r.DirFromTalk) {
			r.Direction, r.DirFromTalk = m.Direction, true
		}
		if m.Location != nil && !r.LocFromEst && (r.Location == nil || *r.Location != *m.Location) {
			loc := *m.Location
			r.Location = &loc
		}
		ch.Changed = true
		r.mergeAgent(m.Agent, subject, &ch)
		r.meet(sideTalk, &ch)
		return ch
	}

	// A phone-bar event of the call.
	if r.addMessageID(m.MessageID) {
		ch.Changed = true
	}
	if m.Direction != "" && r.Direction == "" {
		r.Direction = m.Direction
		ch.Changed = true
	}
	r.mergeAgent(m.Agent, subject, &ch)
	var pbuf [64]byte
	if p := appendText(pbuf[:0], m.raw(fPartyID)); len(p) > 0 && r.addParty(p) {
		ch.Changed = true
	}
	t := eventTime(in)
	if s, ok := CallStateOf(m.MessageID); ok {
		i := s.Rank() - 1
		if r.Times[i] == 0 || t < r.Times[i] {
			r.Times[i] = t
			ch.Changed = true
		}
		switch {
		case subject != "":
			// With tokens, each subject's leg has its own state, and the
			// call's follows the legs (legState).
			if i := r.leg(subject); i < 0 || s.Rank() > r.Legs[i].Rank {
				l := Leg{Subject: subject}
				if i >= 0 {
					l = r.Legs[i]
				}
				l.Rank = s.Rank()
				if r.setLeg(l) {
					ch.Changed = true
				}
			}
			if ls := r.legState(); ls != r.State && ls != "" {
				r.State = ls
				ch.Changed = true
			}
		case s.Rank() > r.State.Rank():
			r.State = s
			ch.Changed = true
		}
	}
	if m.MessageID == MsgEstablished {
		if m.Queue != nil && (r.Queue == nil || t >= r.QueueAt) && (r.Queue == nil || *r.Queue != *m.Queue) {
			q := *m.Queue
			r.Queue, r.QueueAt = &q, t
			ch.Changed = true
		}
		if m.Location != nil && (!r.LocFromEst || r.Location == nil || *r.Location != *m.Location) {
			loc := *m.Location
			r.Location, r.LocFromEst = &loc, true
			ch.Changed = true
		}
	}
	r.meet(sideEvent, &ch)
	ch.To = r.State
	r.observe(&ch)
	return ch
}

// applyOtherTalk keeps the talk details of a subject other than the
// record's owner in that subject's leg.
func (r *CallRecord) applyOtherTalk(subject string, params json.RawMessage, print Digest) CallChange {
	ch := CallChange{From: r.State, To: r.State}
	l := Leg{Subject: subject}
	if i := r.leg(subject); i >= 0 {
		l = r.Legs[i]
		if len(l.Talk) > 0 && l.Print == print {
			ch.Repeat = true
			return ch
		}
	}
	l.Talk, l.Print = append(json.RawMessage(nil), params...), print
	// The record changes (the leg is kept) although the view does not
	// show it: the view gets a new revision all the same.
	ch.Changed = r.setLeg(l)
	return ch
}

// TalkOf returns the talk details that ride on subject's events: the
// owner's when subject is the owner or tokens are off, the subject's own
// leg's otherwise; nil when that subject sent none.
func (r *CallRecord) TalkOf(subject string) json.RawMessage {
	if r.Sides&sideTalk == 0 {
		return nil
	}
	if subject == "" || subject == r.Owner {
		return r.Talk
	}
	if i := r.leg(subject); i >= 0 {
		return r.Legs[i].Talk
	}
	return nil
}

// meet records that side was seen.
func (r *CallRecord) meet(side uint8, ch *CallChange) {
	before := r.Sides
	if before&side != 0 {
		return
	}
	r.Sides |= side
	ch.Changed = true
	if r.Met() {
		ch.Met = true
		ch.TalkFirst = before == sideTalk
	}
}

// mergeAgent fills the agent fields still unknown. With tokens, only the
// subject the record's agent already is (or the first one) fills them: a
// second agent's email never joins the first's.
func (r *CallRecord) mergeAgent(a *Agent, subject string, ch *CallChange) {
	if subject != "" && r.Agent.Subject != "" && r.Agent.Subject != subject {
		return
	}
	fill := func(dst *string, v string) {
		if *dst == "" && v != "" {
			*dst = v
			ch.Changed = true
		}
	}
	fill(&r.Agent.Subject, subject)
	if a != nil {
		fill(&r.Agent.Email, a.Email)
		fill(&r.Agent.ID, a.ID)
		fill(&r.Agent.UUID, a.UUID)
	}
}

// observe sets ch.Ring and ch.Talk for durations known for the first time.
func (r *CallRecord) observe(ch *CallChange) {
	if r.Observed&observedRing == 0 {
		if d, ok := r.ringDuration(); ok {
			r.Observed |= observedRing
			ch.Ring, ch.RingKnown = d, true
		}
	}
	if r.Observed&observedTalk == 0 {
		if d, ok := r.talkDuration(); ok {
			r.Observed |= observedTalk
			ch.Talk, ch.TalkKnown = d, true
		}
	}
}

// stateTime returns the time state s was first reached, 0 when unknown.
func (r *CallRecord) stateTime(s CallState) int64 { return r.Times[s.Rank()-1] }

// ringDuration is from ringing to established or, unanswered, to released or ended.
func (r *CallRecord) ringDuration() (time.Duration, bool) {
	start := r.stateTime(CallRinging)
	end := r.stateTime(CallEstablished)
	if end == 0 && r.State.Rank() >= CallReleased.Rank() {
		end = firstNonZero(r.stateTime(CallReleased), r.stateTime(CallEnded))
	}
	return span(start, end)
}

// talkDuration is from established to released (or ended).
func (r *CallRecord) talkDuration() (time.Duration, bool) {
	return span(r.stateTime(CallEstablished), firstNonZero(r.stateTime(CallReleased), r.stateTime(CallEnded)))
}

func firstNonZero(a, b int64) int64 {
	if a != 0 {
		return a
	}
	return b
}

// span returns end - start when both are known and end is not before start.
func span(start, end int64) (time.Duration, bool) {
	if start == 0 || end == 0 || end < start {
		return 0, false
	}
	return time.Duration(end-start) * time.Millisecond, true
}

// addMessageID adds id to the set; false when present or full.
func (r *CallRecord) addMessageID(id string) bool {
	return r.MessageIDs.add(id)
}

// addParty inserts a partyID in sorted order; false when present or full.
// The list is replaced, never modified in place, since copies of the record
// may share it.
func (r *CallRecord) addParty(p []byte) bool {
	s := r.Parties
	i := sort.Search(len(s), func(i int) bool { return s[i] >= string(p) })
	if i < len(s) && s[i] == string(p) {
		return false
	}
	if len(s) >= MaxCallParties {
		return false
	}
	n := make([]string, 0, len(s)+1)
	n = append(n, s[:i]...)
	n = append(n, string(p))
	n = append(n, s[i:]...)
	r.Parties = n
	return true
}

// knownIndex is the vendor's position of a known ID, len(knownIDs) for unknown ones.
func knownIndex(id string) int {
	for i, k := range knownIDs {
		if k == id {
			return i
		}
	}
	return len(knownIDs)
}

// MessageIDSet is the set of phone-bar message IDs a call has seen: the 14
// known ones as bits, others (at most MaxCallMessageIDs in all) in a sorted
// list that is replaced, never modified in place. Its JSON form is the list
// of IDs, known ones in the vendor's order, then the others.
type MessageIDSet struct {
	known uint16
	other []string
}

// add adds id; false when present or when the set is full.
func (s *MessageIDSet) add(id string) bool {
	if k := knownIndex(id); k < len(knownIDs) {
		if s.known&(1<<k) != 0 {
			return false
		}
		if s.Len() >= MaxCallMessageIDs {
			return false
		}
		s.known |= 1 << k
		return true
	}
	i := sort.SearchStrings(s.other, id)
	if i < len(s.other) && s.other[i] == id || s.Len() >= MaxCallMessageIDs {
		return false
	}
	n := make([]string, 0, len(s.other)+1)
	n = append(n, s.other[:i]...)
	n = append(n, id)
	s.other = append(n, s.other[i:]...)
	return true
}

// Len returns the number of IDs in the set.
func (s MessageIDSet) Len() int { return bits.OnesCount16(s.known) + len(s.other) }

// IsZero reports whether the set is empty.
func (s MessageIDSet) IsZero() bool { return s.known == 0 && len(s.other) == 0 }

// List returns the IDs, known ones in the vendor's order, then the others
// sorted. The slice is new.
func (s MessageIDSet) List() []string {
	out := make([]string, 0, s.Len())
	for k, id := range knownIDs {
		if s.known&(1<<k) != 0 {
			out = append(out, id)
		}
	}
	return append(out, s.other...)
}

// MarshalJSON encodes the set as the list of its IDs.
func (s MessageIDSet) MarshalJSON() ([]byte, error) { return json.Marshal(s.List()) }

// UnmarshalJSON decodes a list of IDs.
func (s *MessageIDSet) UnmarshalJSON(b []byte) error {
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return err
	}
	*s = MessageIDSet{}
	for _, id := range ids {
		s.add(id)
	}
	return nil
}

// callRecordOverhead is what a call record costs in memory beyond its
// texts: the struct, its queue and customer, and the state's index entry
// and key (measured with the correlate package's bytes-per-call benchmark).
const callRecordOverhead = 600

// Size estimates the bytes r holds in memory, its talk details above all,
// so that the state can bound bytes and not only records.
func (r *CallRecord) Size() int {
	n := callRecordOverhead + 2*len(r.CallID) + len(r.Talk)
	n += len(r.Agent.Subject) + len(r.Agent.Email) + len(r.Agent.ID) + len(r.Agent.UUID)
	if c := r.Customer; c != nil {
		n += len(c.PartnerID) + len(c.UID) + len(c.Uphone) + len(c.EncryptUphone) + len(c.Uemail)
	}
	for _, p := range r.Parties {
		n += 16 + len(p)
	}
	for _, l := range r.Legs {
		n += 64 + len(l.Subject) + len(l.Talk)
	}
	return n
}
