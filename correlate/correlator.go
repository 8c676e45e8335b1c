package relay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/events"
)

// maxConflictRetries bounds the compare-and-set retries of one event's
// correlation; beyond it, or past the event's deadline, the event is nacked
// with retry:true. Retries wait a little, with jitter (conflictBackoff), so
// that replicas racing on one busy call take turns instead of starving one
// writer: each attempt spans a view publish, a window others keep winning.
const maxConflictRetries = 64

// conflictBackoff waits before compare-and-set retry number attempt (1, 2,
// ...): a random time up to min(maxConflictWait, 250µs·2^attempt), or until
// ctx ends (then its error).
func conflictBackoff(ctx context.Context, attempt int) error {
	ceiling := maxConflictWait
	if attempt < 10 {
		ceiling = min(ceiling, 250*time.Microsecond<<attempt)
	}
	t := time.NewTimer(rand.N(ceiling) + time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxConflictWait is the longest single wait between two retries.
const maxConflictWait = 50 * time.Millisecond

// releaseTimeout bounds giving a claim up after a failure, whatever is left
// of the event's own deadline.
const releaseTimeout = 2 * time.Second

// Why an event was acknowledged as a duplicate by the correlation.
const (
	dupContent = "content" // the same vendor event, already published
	dupRepeat  = "repeat"  // an iframeParams identical to the call's last one
)

// correlator joins the events of a call (DESIGN §5, contract C): it enriches
// phone-bar events with the call's talk details, queue and agent, keeps the
// call's merged view and the agents' states, and recognises repeats. Its
// state lives in a State; in shared mode, mirror is the replica's local copy
// of what it committed, which the gauges are counted from (in memory mode
// mirror is the state itself).
//
// One event goes through begin (claim its content key, read and apply), the
// publish of the enriched event by the pipeline, then finish (publish the
// call view, commit the state with compare-and-set, commit the content key)
// or abort. Nothing is committed for an event that was not published, so its
// resend is never mistaken for a repeat.
type correlator struct {
	tenant string
	store  State
	mirror *MemoryState
	shared bool
	m      *metrics
	now    func() time.Time
}

// newCorrelator wires the correlation metrics into mirror's hooks.
func newCorrelator(tenant string, store State, mirror *MemoryState, m *metrics) *correlator {
	c := &correlator{tenant: tenant, store: store, mirror: mirror, shared: State(mirror) != store, m: m, now: time.Now}
	mirror.hooks = stateHooks{
		callChanged: func(from, to events.CallState) {
			if from == to {
				return
			}
			if from != "" {
				m.callsActive.WithLabelValues(string(from)).Dec()
			}
			if to != "" {
				m.callsActive.WithLabelValues(string(to)).Inc()
			}
		},
		callRemoved: func(rec *events.CallRecord, evicted bool) {
			if rec.State != "" {
				m.callsActive.WithLabelValues(string(rec.State)).Dec()
			}
			if !rec.Met() {
				m.correlation.WithLabelValues("unmatched").Inc()
			}
			if evicted {
				m.stateEvictions.WithLabelValues("call").Inc()
			}
		},
		agentChanged: func(from, to events.AgentState) {
			if from == to {
				return
			}
			if from != "" {
				m.agents.WithLabelValues(string(from)).Dec()
			}
			if to != "" {
				m.agents.WithLabelValues(string(to)).Inc()
			}
		},
		agentRemoved: func(rec *events.AgentRecord, evicted bool) {
			if rec.State != "" {
				m.agents.WithLabelValues(string(rec.State)).Dec()
			}
			if evicted {
				m.stateEvictions.WithLabelValues("agent").Inc()
			}
		},
	}
	return c
}

// step is the correlation of one event in progress.
type step struct {
	c           *correlator
	in          events.CallInput
	claim       KeyClaim
	commitClaim bool // a content key (committed) rather than a talk lock (released)

	callKey string
	rec     *events.CallRecord
	rev     uint64
	ch      events.CallChange

	agentKey string
	arec     *events.AgentRecord
	arev     uint64
	achanged bool
}

// begin claims the event's content key, reads the call or agent it belongs
// to, applies the event and enriches ev. dup is dupContent or dupRepeat when
// the event must be acknowledged as a duplicate and not published; step is
// then nil and nothing is held. An error means the state could not be read:
// nothing is held either.
func (c *correlator) begin(ctx context.Context, msg *events.Message, ev *events.Event, subject string, seenAt time.Time) (st *step, dup string, err error) {
	st = &step{c: c, in: events.CallInput{Msg: msg, AgentSubject: subject, SeenAt: seenAt}}
	isCall := events.IsCallMessage(msg)
	if key := events.ContentKey(c.tenant, msg); key != "" {
		claim, isDup, err := c.store.ClaimKey(ctx, key)
		if err != nil {
			c.m.stateErrors.WithLabelValues("claim_key").Inc()
			return nil, "", err
		}
		if isDup {
			c.m.contentDups.Inc()
			return nil, dupContent, nil
		}
		st.claim, st.commitClaim = claim, true
	} else if isCall && msg.Type == events.TypeIframeParams {
		// Serialise the talk details of one call, so that the same ones
		// delivered at once by two tabs are published once.
		claim, _, err := c.store.ClaimKey(ctx, "t."+events.CallKey(c.tenant, msg.CallID))
		if err != nil {
			c.m.stateErrors.WithLabelValues("claim_key").Inc()
			return nil, "", err
		}
		st.claim = claim
	}

	switch {
	case isCall:
		st.callKey = events.CallKey(c.tenant, msg.CallID)
		if err := st.loadCall(ctx); err != nil {
			st.abort(ctx)
			return nil, "", err
		}
		st.ch = st.rec.Apply(st.in)
		if st.ch.Repeat {
			st.abort(ctx)
			c.m.iframeSuppressed.Inc()
			return nil, dupRepeat, nil
		}
		st.rec.Enrich(ev)
	case msg.Type == events.TypeCallBarEvent && events.IsAgentEvent(msg.MessageID):
		st.agentKey = events.AgentKey(c.tenant, msg, subject)
		if st.agentKey == "" {
			break
		}
		if err := st.loadAgent(ctx); err != nil {
			st.abort(ctx)
			return nil, "", err
		}
		st.achanged = st.arec.Apply(msg, seenAt)
	}
	return st, "", nil
}

func (st *step) loadCall(ctx context.Context) error {
	rec, rev, err := st.c.store.Call(ctx, st.callKey)
	if err != nil {
		st.c.m.stateErrors.WithLabelValues("get_call").Inc()
		return err
	}
	if rec == nil {
		// Created names this incarnation of the call in its views' message
		// ids; the event's own time keeps it the same when a resend redoes
		// the step.
		rec = events.NewCallRecord(st.in.Msg.CallID)
		rec.Created = st.in.Msg.CreationTime
		if rec.Created <= 0 {
			rec.Created = st.in.SeenAt.UnixMilli()
		}
	}
	st.rec, st.rev = rec, rev
	return nil
}

func (st *step) loadAgent(ctx context.Context) error {
	rec, rev, err := st.c.store.Agent(ctx, st.agentKey)
	if err != nil {
		st.c.m.stateErrors.WithLabelValues("get_agent").Inc()
		return err
	}
	if rec == nil {
		rec = &events.AgentRecord{}
	}
	st.arec, st.arev = rec, rev
	return nil
}

// finish runs after the event was published: when the call changed it
// publishes the call view through publishView, then commits the call (and
// agent) state with compare-and-set, reading, applying and publishing again
// on a conflict; then it commits the content key. An error means the state
// was not committed (the claim is released): the event must be nacked with
// retry so that its resend redoes the step.
func (st *step) finish(ctx context.Context, publishView func(view *events.Call, msgID string) error, log zerolog.Logger) error {
	c := st.c
	if st.rec != nil && st.ch.Changed {
		if err := st.commitCall(ctx, publishView, log); err != nil {
			st.abort(ctx)
			return err
		}
	}
	if st.arec != nil && st.achanged {
		if err := st.commitAgent(ctx); err != nil {
			st.abort(ctx)
			return err
		}
	}
	if st.claim != nil {
		var err error
		if st.commitClaim {
			err = st.claim.Commit(ctx)
		} else {
			err = st.claim.Release(ctx)
		}
		if err != nil {
			c.m.stateErrors.WithLabelValues("commit_key").Inc()
			log.Warn().Err(err).Msg("content key not committed")
		}
		st.claim = nil
	}
	return nil
}

func (st *step) commitCall(ctx context.Context, publishView func(*events.Call, string) error, log zerolog.Logger) error {
	c := st.c
	for attempt := 1; ; attempt++ {
		st.rec.Revision++
		st.rec.Updated = c.now().UnixMilli()
		view := st.rec.View(c.tenant)
		msgID := "call:" + st.callKey + ":" + strconv.FormatInt(st.rec.Created, 10) + ":" + strconv.FormatUint(st.rec.Revision, 10)
		if err := publishView(view, msgID); err != nil {
			return err
		}
		err := c.store.PutCall(ctx, st.callKey, st.rec, st.rev)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrConflict) {
			c.m.stateErrors.WithLabelValues("put_call").Inc()
			return err
		}
		if attempt >= maxConflictRetries {
			c.m.stateErrors.WithLabelValues("put_call").Inc()
			return err
		}
		log.Debug().Int("attempt", attempt).Msg("call state changed meanwhile; applying again")
		if err := conflictBackoff(ctx, attempt); err != nil {
			c.m.stateErrors.WithLabelValues("put_call").Inc()
			return fmt.Errorf("call state kept changing until the deadline: %w", err)
		}
		if err := st.loadCall(ctx); err != nil {
			return err
		}
		st.ch = st.rec.Apply(st.in)
		if !st.ch.Changed {
			return nil // another replica applied the same change
		}
	}
	rec, ch := st.rec, st.ch
	dir := directionLabel(rec.Direction)
	if rec.Revision == 1 {
		c.m.callsTotal.WithLabelValues(dir).Inc()
	}
	if ch.Met {
		c.m.correlation.WithLabelValues("matched").Inc()
		if ch.TalkFirst {
			c.m.correlation.WithLabelValues("talk_first").Inc()
		} else {
			c.m.correlation.WithLabelValues("event_first").Inc()
		}
	}
	if ch.Ring != nil {
		c.m.ringDuration.WithLabelValues(dir).Observe(ch.Ring.Seconds())
	}
	if ch.Talk != nil {
		c.m.talkDuration.WithLabelValues(dir).Observe(ch.Talk.Seconds())
	}
	if c.shared {
		mirror := *rec
		mirror.Talk, mirror.MessageIDs, mirror.Parties = nil, nil, nil
		c.mirror.track(st.callKey, &mirror)
	}
	return nil
}

func (st *step) commitAgent(ctx context.Context) error {
	c := st.c
	for attempt := 1; ; attempt++ {
		st.arec.Updated = c.now().UnixMilli()
		err := c.store.PutAgent(ctx, st.agentKey, st.arec, st.arev)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrConflict) || attempt >= maxConflictRetries {
			c.m.stateErrors.WithLabelValues("put_agent").Inc()
			return err
		}
		if err := conflictBackoff(ctx, attempt); err != nil {
			c.m.stateErrors.WithLabelValues("put_agent").Inc()
			return fmt.Errorf("agent state kept changing until the deadline: %w", err)
		}
		if err := st.loadAgent(ctx); err != nil {
			return err
		}
		if !st.arec.Apply(st.in.Msg, st.in.SeenAt) {
			return nil
		}
	}
	if c.shared {
		r := *st.arec
		c.mirror.trackAgent(st.agentKey, &r)
	}
	return nil
}

// abort releases what begin holds; the step commits nothing.
func (st *step) abort(ctx context.Context) {
	if st == nil || st.claim == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := st.claim.Release(rctx); err != nil {
		st.c.m.stateErrors.WithLabelValues("release_key").Inc()
	}
	st.claim = nil
}

// directionLabel is the metric label of a direction.
func directionLabel(d events.Direction) string {
	if d == "" {
		return "unknown"
	}
	return string(d)
}
