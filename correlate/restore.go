package correlate

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/callrelay/callrelay/events"
)

// Stored is one message read back from the stream the relay publishes
// into: an event, a call view or a refusal, as it was stored.
type Stored struct {
	// Subject is the subject it was published on.
	Subject string
	// MsgID is its Nats-Msg-Id header: the event id, or for a call view
	// "call:<call key>:<created>:<revision>".
	MsgID string
	// Data is the published JSON body; Add does not keep it.
	Data []byte
	// Time is when the stream stored it.
	Time time.Time
}

// ReplaySubjects names the subjects Replay tells apart; every other
// subject is taken for an event subject.
type ReplaySubjects struct {
	Call     string // the call views' subject
	Rejected string // refused events: skipped
	// Prefix, when set, also tells apart the call views and refusals of
	// every other tenant (tenants from tokens): <prefix>.<tenant>.call and
	// <prefix>.<tenant>.rejected.
	Prefix string
}

// Kinds of stored messages.
const (
	storedEvent = iota
	storedView
	storedRejected
)

// kind tells what a message stored on subject is.
func (s ReplaySubjects) kind(subject string) int {
	switch subject {
	case s.Call:
		return storedView
	case s.Rejected:
		return storedRejected
	}
	if rest, ok := strings.CutPrefix(subject, s.Prefix+"."); ok && s.Prefix != "" {
		if i := strings.IndexByte(rest, '.'); i > 0 {
			switch rest[i+1:] {
			case "call":
				return storedView
			case "rejected":
				return storedRejected
			}
		}
	}
	return storedEvent
}

// ReplayStats counts what a Replay read and what it restored.
type ReplayStats struct {
	// Messages read; Events and Views among them replayed; Skipped ones
	// were not ours (another tenant, a refusal) or could not be read.
	Messages, Events, Views, Skipped int
	// What the state holds at the end: Calls and Agents (after expiry),
	// ContentKeys claimed and EventIDs remembered.
	Calls, Agents, ContentKeys, EventIDs int
}

// Replay rebuilds the memory state of a relay that restarted from what it
// published before: feed it, with Add, the messages of the relay's stream
// from some time back, oldest first, then call Finish, all before the
// relay takes events.
//
// Every event is applied to its call or agent as the relay applied it
// (CallRecord.Apply is idempotent and independent of order, so the records
// end as they were), with the state's clock standing at the time the
// stream stored it: records expire and content keys age as they did. The
// call views set each call's revision and the creation time in their
// message ids, so that the next view of a call continues from the last one
// published. The event ids go into the relay's id window.
//
// Replay costs nothing on the event path: it runs once, at start. It is
// not safe for concurrent use, nor while the relay takes events; it works
// on a Correlator over a Memory only.
type Replay struct {
	c        *Correlator
	mem      *Memory
	ids      *Dedup
	subjects ReplaySubjects
	clock    time.Time // the state's time while replaying
	hooks    stateHooks
	now      func() time.Time
	started  bool
	made     time.Time // when NewReplay was called, for the duration gauge
	stats    ReplayStats
	callPfx  string // "<tenant>.c."
}

// NewReplay returns a Replay into c's state and, when ids is not nil, the
// relay's id window. It fails when c keeps its state elsewhere than in
// memory (the shared state needs no replay).
func NewReplay(c *Correlator, ids *Dedup, subjects ReplaySubjects) (*Replay, error) {
	if c.shared {
		return nil, errors.New("replay: the correlation state is shared, not in memory")
	}
	return &Replay{c: c, mem: c.mirror, ids: ids, subjects: subjects, callPfx: c.tenant + ".c.", made: time.Now()}, nil
}

// begin sets the state's clock to the replay's and quiets the counters
// (a call that expired while replaying was counted when it really did).
func (r *Replay) begin(at time.Time) {
	r.started = true
	r.now, r.hooks = r.mem.now, r.mem.hooks
	r.mem.now = func() time.Time { return r.clock }
	r.mem.keys.startAt(at)
	m := r.c.m
	quiet := r.hooks
	quiet.callRemoved = func(rec *events.CallRecord, _ bool) {
		if g := m.callsActive[rec.State]; g != nil {
			g.Dec()
		}
	}
	quiet.agentRemoved = func(rec *events.AgentRecord, _ bool) {
		if g := m.agents[rec.State]; g != nil {
			g.Dec()
		}
	}
	r.mem.hooks = quiet
}

// Add replays one stored message. Messages must come in stream order.
func (r *Replay) Add(s Stored) {
	if !r.started {
		r.begin(s.Time)
	}
	if s.Time.After(r.clock) {
		r.clock = s.Time
	}
	r.stats.Messages++
	switch r.subjects.kind(s.Subject) {
	case storedRejected:
		r.stats.Skipped++
	case storedView:
		if r.view(s.MsgID) {
			r.stats.Views++
		} else {
			r.stats.Skipped++
		}
	default:
		if r.event(s) {
			r.stats.Events++
		} else {
			r.stats.Skipped++
		}
	}
}

// stored is the part of a published event a Replay reads.
type stored struct {
	Tenant string          `json:"tenant"`
	Type   string          `json:"type"`
	SeenAt time.Time       `json:"seenAt"`
	Params json.RawMessage `json:"params"`
	Agent  *struct {
		Subject string `json:"subject"`
	} `json:"agent"`
}

// event applies one published event; false when it is not one of ours.
func (r *Replay) event(s Stored) bool {
	var e stored
	if err := json.Unmarshal(s.Data, &e); err != nil || !events.ValidTenant(e.Tenant) || len(e.Params) == 0 {
		return false
	}
	if e.Tenant != r.c.tenant && r.subjects.Prefix == "" {
		return false // another tenant's, and this relay has no tenants from tokens
	}
	tenant := e.Tenant
	// The workbench's event.data, as the hook sent it.
	data := make([]byte, 0, len(e.Params)+64)
	data = append(data, `{"source":"agentCall","type":`...)
	data = strconv.AppendQuote(data, e.Type)
	data = append(data, `,"params":`...)
	data = append(data, e.Params...)
	data = append(data, '}')
	msg, err := events.Parse(data, events.Options{MaxBytes: len(data) + 1})
	if err != nil {
		return false
	}
	var subject string
	if e.Agent != nil {
		subject = e.Agent.Subject
	}
	ctx := context.Background()
	if r.ids != nil && s.MsgID != "" && r.ids.Remember(r.ids.KeyOf(s.MsgID), s.Time) {
		r.stats.EventIDs++
	}
	scope := tenant
	if subject != "" {
		scope = tenant + "\x00s:" + subject // as Begin scopes it
	}
	if key, ok := events.ContentKey(scope, msg); ok {
		if claim, dup, err := r.mem.ClaimKey(ctx, key); err == nil && !dup {
			_ = claim.Commit(ctx)
			r.stats.ContentKeys++
		}
	}
	updated := s.Time.UnixMilli()
	switch {
	case events.IsCallMessage(msg):
		key := events.CallKey(tenant, msg.CallID)
		cur, rev, _ := r.mem.Call(ctx, key)
		var work events.CallRecord
		if cur != nil {
			work = *cur
		} else {
			work = events.CallRecord{CallID: msg.CallID, Created: msg.CreationTime}
			if work.Created <= 0 {
				work.Created = e.SeenAt.UnixMilli()
			}
		}
		ch := work.Apply(events.CallInput{Msg: msg, AgentSubject: subject, SeenAt: e.SeenAt})
		if ch.Repeat || !ch.Changed {
			return true
		}
		work.Revision++
		work.Updated = updated
		rec := work
		_ = r.mem.PutCall(ctx, key, &rec, rev)
	case msg.Type == events.TypeCallBarEvent && events.IsAgentEvent(msg.MessageID):
		key := events.AgentKey(tenant, msg, subject)
		if key == "" {
			return true
		}
		cur, rev, _ := r.mem.Agent(ctx, key)
		var rec events.AgentRecord
		if cur != nil {
			rec = *cur
		}
		if rec.Apply(msg, e.SeenAt) {
			rec.Updated = updated
			_ = r.mem.PutAgent(ctx, key, &rec, rev)
		}
	}
	return true
}

// view takes a call view's revision and creation time from its message
// id, call:<key>:<created>:<revision>; false when it is not one of ours
// or its call is not held.
func (r *Replay) view(msgID string) bool {
	key, created, revision, ok := parseViewID(msgID)
	if !ok || !(strings.HasPrefix(key, r.callPfx) || r.subjects.Prefix != "" && strings.Contains(key, ".c.")) {
		return false
	}
	ctx := context.Background()
	cur, rev, _ := r.mem.Call(ctx, key)
	if cur == nil {
		return false // its events are older than the replay, or it expired
	}
	// The view follows the event that made it, so cur is the record it
	// was made from. A different creation time means that the replay
	// began after the call's first event: the view's numbering wins.
	if cur.Created == created && cur.Revision >= revision {
		return true
	}
	rec := *cur
	if rec.Created != created {
		rec.Created, rec.Revision = created, revision
	} else {
		rec.Revision = revision
	}
	_ = r.mem.PutCall(ctx, key, &rec, rev)
	return true
}

// parseViewID splits call:<key>:<created>:<revision>.
func parseViewID(id string) (key string, created int64, revision uint64, ok bool) {
	rest, found := strings.CutPrefix(id, "call:")
	if !found {
		return "", 0, 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", 0, 0, false
	}
	revision, err := strconv.ParseUint(rest[i+1:], 10, 64)
	if err != nil {
		return "", 0, 0, false
	}
	rest = rest[:i]
	j := strings.LastIndexByte(rest, ':')
	if j < 0 {
		return "", 0, 0, false
	}
	created, err = strconv.ParseInt(rest[j+1:], 10, 64)
	if err != nil {
		return "", 0, 0, false
	}
	return rest[:j], created, revision, true
}

// Finish puts the state back on the real clock, drops what expired in the
// meantime and returns what was restored. The Replay must not be used
// afterwards.
func (r *Replay) Finish() ReplayStats {
	if r.started {
		r.mem.now = r.now
		r.mem.hooks = r.hooks
		r.mem.Expire()
	}
	r.stats.Calls, r.stats.Agents = r.mem.Len()
	r.c.m.restored(r.stats, time.Since(r.made))
	return r.stats
}
