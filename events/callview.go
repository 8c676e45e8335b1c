package events

import "time"

// Call is the merged view of one call that the relay publishes on
// <prefix>.<tenant>.call on every change (contract C). Its JSON form is
// described by schema/call.schema.json.
type Call struct {
	// Tenant is the tenant the call belongs to.
	Tenant string `json:"tenant"`
	// CallID is the normalised call id shared by the phone-bar events
	// (callID) and the talk details (callId).
	CallID string `json:"callId"`
	// State is the furthest state reached; absent while only the talk
	// details are known.
	State CallState `json:"state,omitempty"`
	// Direction comes from the talk details' callType when known, else from
	// the phone-bar events' callType.
	Direction Direction `json:"direction,omitempty"`
	// Agent merges what every message of the call said about the agent.
	Agent *Agent `json:"agent,omitempty"`
	// Customer comes from the latest talk details.
	Customer *Customer `json:"customer,omitempty"`
	// Queue comes from EventEstablished.
	Queue *Queue `json:"queue,omitempty"`
	// Location comes from EventEstablished, else from the talk details.
	Location *Location `json:"location,omitempty"`
	// The times each state was first reached, by the vendor's creationTime
	// (the hook's seenAt for events without one), in UTC.
	DialingAt     *time.Time `json:"dialingAt,omitempty"`
	RingingAt     *time.Time `json:"ringingAt,omitempty"`
	EstablishedAt *time.Time `json:"establishedAt,omitempty"`
	ReleasedAt    *time.Time `json:"releasedAt,omitempty"`
	EndedAt       *time.Time `json:"endedAt,omitempty"`
	// RingSeconds is from ringing to established (or, for a call never
	// answered, to released or ended).
	RingSeconds *float64 `json:"ringSeconds,omitempty"`
	// TalkSeconds is from established to released (or ended).
	TalkSeconds *float64 `json:"talkSeconds,omitempty"`
	// TalkDetails is true once the call's iframeParams has been seen.
	TalkDetails bool `json:"talkDetails"`
	// MessageIDs are the phone-bar message IDs seen for the call, the 14
	// documented ones in the vendor's order, then unknown ones sorted.
	MessageIDs []string `json:"messageIDs"`
	// Parties are the partyIDs seen on the call's events (transfers,
	// conferences), sorted.
	Parties []string `json:"parties,omitempty"`
	// Revision counts the changes of the call, from 1; a subscriber keeps
	// the view with the highest revision.
	Revision uint64 `json:"revision"`
	// UpdatedAt is when the relay made this revision, by its clock, in UTC.
	UpdatedAt time.Time `json:"updatedAt"`
	// Redaction names the personal-data policy that shaped the view (see
	// Event.Redaction).
	Redaction string `json:"redaction,omitempty"`
}

// View builds the published Call of the record for tenant, stamped with the
// record's Revision and Updated time.
func (r *CallRecord) View(tenant string) *Call {
	c := &Call{
		Tenant:      tenant,
		CallID:      r.CallID,
		State:       r.State,
		Direction:   r.Direction,
		Queue:       r.Queue,
		Location:    r.Location,
		TalkDetails: r.Sides&sideTalk != 0,
		MessageIDs:  r.MessageIDs.List(),
		Parties:     r.Parties,
		Revision:    r.Revision,
		UpdatedAt:   time.UnixMilli(r.Updated).UTC(),
	}
	if r.Agent != (Agent{}) {
		a := r.Agent
		c.Agent = &a
	}
	if r.Customer != nil && *r.Customer != (Customer{}) {
		cu := *r.Customer
		c.Customer = &cu
	}
	at := func(s CallState) *time.Time {
		ms := r.stateTime(s)
		if ms == 0 {
			return nil
		}
		t := time.UnixMilli(ms).UTC()
		return &t
	}
	c.DialingAt, c.RingingAt, c.EstablishedAt = at(CallDialing), at(CallRinging), at(CallEstablished)
	c.ReleasedAt, c.EndedAt = at(CallReleased), at(CallEnded)
	if d, ok := r.ringDuration(); ok {
		s := d.Seconds()
		c.RingSeconds = &s
	}
	if d, ok := r.talkDuration(); ok {
		s := d.Seconds()
		c.TalkSeconds = &s
	}
	return c
}

// Enrich adds to e, an event of the call, what the record knows (contract
// C): the talk details' params on phone-bar events, the queue, location and
// direction when e has none, and the agent fields e lacks. With client
// tokens (e.Agent.Subject set), only what belongs to e's own subject rides
// on it: its own talk details, never another agent's, nor their agent
// fields or the location their talk details gave.
func (r *CallRecord) Enrich(e *Event) {
	if e.Direction == "" {
		e.Direction = r.Direction
	}
	subject := ""
	if e.Agent != nil {
		subject = e.Agent.Subject
	}
	if e.Type == TypeCallBarEvent {
		e.Talk = r.TalkOf(subject)
	}
	if e.Queue == nil && r.Queue != nil {
		q := *r.Queue
		e.Queue = &q
	}
	other := subject != "" && subject != r.Owner && r.Owner != ""
	if e.Location == nil && r.Location != nil && !(other && !r.LocFromEst) {
		// (The talk details' location rides on its owner's events only.)
		l := *r.Location
		e.Location = &l
	}
	if r.Agent != (Agent{}) && (subject == "" || subject == r.Agent.Subject) {
		var a Agent
		if e.Agent != nil {
			a = *e.Agent
		}
		if a.Subject == "" {
			a.Subject = r.Agent.Subject
		}
		if a.Email == "" {
			a.Email = r.Agent.Email
		}
		if a.ID == "" {
			a.ID = r.Agent.ID
		}
		if a.UUID == "" {
			a.UUID = r.Agent.UUID
		}
		e.Agent = &a
	}
}
