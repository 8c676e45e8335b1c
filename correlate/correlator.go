package correlate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callrelay/callrelay/events"
)

// maxConflictRetries bounds the compare-and-set retries of one event's
// commit; beyond it, or past the event's deadline, Commit fails and the
// event is nacked with retry:true. Retries wait a little, with jitter
// (conflictBackoff), so that replicas racing on one busy call take turns
// instead of starving one writer.
const maxConflictRetries = 64

// maxConflictWait is the longest single wait between two retries.
const maxConflictWait = 50 * time.Millisecond

// releaseTimeout bounds giving a claim up after a failure, whatever is left
// of the event's own deadline.
const releaseTimeout = 2 * time.Second

// Why an event was acknowledged as a duplicate by the correlation.
const (
	DupContent = "content" // the same vendor event, already published
	DupRepeat  = "repeat"  // an iframeParams identical to the call's last one
)

// Config configures a Correlator.
type Config struct {
	// Tenant is the tenant every key is scoped to.
	Tenant string
	// Memory bounds the memory state: the state itself when New is given
	// no State, the replica's mirror (for the gauges) otherwise.
	Memory MemoryConfig
}

// Correlator joins the events of a call: it enriches phone-bar events with
// the call's talk details, queue and agent, keeps the call's merged view and
// the agents' states, and recognises repeats. It is safe for concurrent use.
//
// Transactions on one call are serialised by a lock of this process, held
// from Begin to Commit or Abort by a transaction that changes the call (one
// that changes nothing releases it at once). The lock is what lets a
// connection keep several events in flight: each event's Begin sees the
// state its predecessors on the same call will commit, or waits for them.
// Between replicas (shared state), compare-and-set on the stored revision
// keeps updates from being lost.
type Correlator struct {
	tenant string
	store  State
	mirror *Memory // the state itself in memory mode; the gauges' mirror in shared mode
	shared bool
	m      *metrics
	now    func() time.Time

	mu    sync.Mutex
	locks map[string]chan struct{} // held call locks; the channel (made on demand) wakes waiters
}

// New returns a Correlator over st, or over a Memory bounded by
// cfg.Memory when st is nil; its metrics are registered on reg.
func New(cfg Config, st State, reg prometheus.Registerer) (*Correlator, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("register correlation metrics: %w", err)
	}
	mem, ok := st.(*Memory)
	if !ok {
		mem = NewMemory(cfg.Memory)
	}
	if st == nil {
		st = mem
	}
	c := &Correlator{
		tenant: cfg.Tenant, store: st, mirror: mem, shared: State(mem) != st, m: m,
		locks: map[string]chan struct{}{},
	}
	c.now = func() time.Time { return mem.now() }
	mem.hooks = m.hooks()
	return c, nil
}

// Mirror returns the Memory the gauges are counted from: the state itself
// in memory mode.
func (c *Correlator) Mirror() *Memory { return c.mirror }

// Input is one accepted event to correlate.
type Input struct {
	// Msg is the parsed message; its Params must stay valid until Begin
	// returns (the Txn keeps its own copy when it may need it later).
	Msg *events.Message
	// Event is the event to publish; Begin enriches it.
	Event *events.Event
	// AgentSubject is the subject of the client's token, if any. With a
	// subject, correlation is scoped to it (docs/callview.md): the content
	// key, the talk details that ride on the event and the talk-details
	// lock are the subject's own.
	AgentSubject string
	// Tenant is the event's tenant when it comes from the client's token;
	// "" means the Correlator's own.
	Tenant string
	// SeenAt is the hook's time.
	SeenAt time.Time
}

// Txn is the correlation of one event in progress. After Begin, exactly one
// of Commit or Abort must be called (both are safe to call again).
type Txn struct {
	c      *Correlator
	tenant string
	in     events.CallInput
	done   bool

	// Dup is DupContent or DupRepeat when the event must be acknowledged
	// as a duplicate and not published; the Txn then holds nothing.
	Dup string

	claim       KeyClaim // the content key, committed with the event
	talkClaim   KeyClaim // shared mode: serialises a call's talk details across replicas
	callKey     string
	locked      bool
	rec         *events.CallRecord // the new record, when the event changes the call
	rev         uint64
	ch          events.CallChange
	view        *events.Call
	viewID      string
	agentKey    string
	arec        *events.AgentRecord
	arev        uint64
	agentChange bool
}

// Begin claims the event's content key, reads the call or agent it belongs
// to, applies the event and enriches in.Event. When the event changes the
// call, View returns the call view to publish with it. An error means the
// state could not be read (ctx ended, or the shared state is unreachable):
// nothing is held, and the event must be nacked with retry.
func (c *Correlator) Begin(ctx context.Context, in Input) (*Txn, error) {
	msg := in.Msg
	if c.shared {
		// A conflict with another replica makes Commit apply the message
		// again, after the caller has reused the data it was parsed from.
		msg = msg.Detach()
	}
	tenant := in.Tenant
	if tenant == "" {
		tenant = c.tenant
	}
	t := &Txn{c: c, tenant: tenant, in: events.CallInput{Msg: msg, AgentSubject: in.AgentSubject, SeenAt: in.SeenAt}}
	isCall := events.IsCallMessage(msg)
	scope := tenant
	if in.AgentSubject != "" {
		// Another agent sending the same vendor event first must not make
		// this agent's copy a duplicate.
		scope = tenant + "\x00s:" + in.AgentSubject
	}
	if key, ok := events.ContentKey(scope, msg); ok {
		claim, dup, err := c.store.ClaimKey(ctx, key)
		if err != nil {
			c.m.stateErrors[opClaimKey].Inc()
			return nil, err
		}
		if dup {
			c.m.contentDups.Inc()
			t.Dup, t.done = DupContent, true
			return t, nil
		}
		t.claim = claim
	}
	switch {
	case isCall:
		t.callKey = events.CallKey(tenant, msg.CallID)
		if err := t.beginCall(ctx, in.Event); err != nil {
			t.Abort()
			return nil, err
		}
		if t.Dup != "" {
			t.Abort()
			t.Dup = DupRepeat
		}
	case msg.Type == events.TypeCallBarEvent && events.IsAgentEvent(msg.MessageID):
		t.agentKey = events.AgentKey(tenant, msg, in.AgentSubject)
		if t.agentKey == "" {
			break
		}
		if err := t.loadAgent(ctx); err != nil {
			t.Abort()
			return nil, err
		}
		t.agentChange = t.arec.Apply(msg, in.SeenAt)
	}
	return t, nil
}

// beginCall locks the call, applies the event to a copy of its record and
// enriches ev. The lock is kept only when the call changed.
func (t *Txn) beginCall(ctx context.Context, ev *events.Event) error {
	c := t.c
	if c.shared && t.in.Msg.Type == events.TypeIframeParams {
		// Serialise the talk details of one call across replicas, so that
		// the same ones delivered at once to two replicas are published once.
		claim, _, err := c.store.ClaimKey(ctx, talkLockKey(t.callKey, t.in.AgentSubject))
		if err != nil {
			c.m.stateErrors[opClaimKey].Inc()
			return err
		}
		t.talkClaim = claim
	}
	if err := c.lock(ctx, t.callKey); err != nil {
		return fmt.Errorf("wait for the call's earlier events: %w", err)
	}
	t.locked = true
	stored, rev, err := t.readCall(ctx)
	if err != nil {
		return err
	}
	// The event is applied to a copy on the stack; only a change is copied
	// to the heap, so that the common event that changes nothing costs no
	// copy of the record.
	work := *stored
	t.ch = work.Apply(t.in)
	if t.ch.Repeat {
		c.m.iframeSuppressed.Inc()
		t.Dup = DupRepeat
		return nil
	}
	work.Enrich(ev)
	if !t.ch.Changed {
		c.unlock(t.callKey)
		t.locked = false
		return nil
	}
	t.rec, t.rev = new(events.CallRecord), rev
	*t.rec = work
	t.stamp()
	return nil
}

// stamp gives the changed record its next revision and builds its view.
func (t *Txn) stamp() {
	t.rec.Revision++
	t.rec.Updated = t.c.now().UnixMilli()
	t.view = t.rec.View(t.tenant)
	t.viewID = "call:" + t.callKey + ":" + strconv.FormatInt(t.rec.Created, 10) + ":" + strconv.FormatUint(t.rec.Revision, 10)
}

// View returns the call view to publish with the event and its message id
// (stable for a revision, so that a resend is a duplicate in the stream);
// ok is false when the event did not change the call.
func (t *Txn) View() (view *events.Call, msgID string, ok bool) {
	return t.view, t.viewID, t.view != nil
}

// readCall reads the call's record (read-only) and its revision; a call
// not yet known gets a new record.
func (t *Txn) readCall(ctx context.Context) (*events.CallRecord, uint64, error) {
	rec, rev, err := t.c.store.Call(ctx, t.callKey)
	if err != nil {
		t.c.m.stateErrors[opGetCall].Inc()
		return nil, 0, err
	}
	if rec == nil {
		// Created names this incarnation of the call in its views' message
		// ids; the event's own time keeps it the same when a resend redoes
		// the step.
		rec = events.NewCallRecord(t.in.Msg.CallID)
		rec.Created = t.in.Msg.CreationTime
		if rec.Created <= 0 {
			rec.Created = t.in.SeenAt.UnixMilli()
		}
	}
	return rec, rev, nil
}

func (t *Txn) loadAgent(ctx context.Context) error {
	rec, rev, err := t.c.store.Agent(ctx, t.agentKey)
	if err != nil {
		t.c.m.stateErrors[opGetAgent].Inc()
		return err
	}
	r := events.AgentRecord{}
	if rec != nil {
		r = *rec
	}
	t.arec, t.arev = &r, rev
	return nil
}

// Commit runs after the event and its call view were stored: it stores the
// call (and agent) state with compare-and-set and commits the content key.
// On a conflict with another replica it reads, applies and stamps again and
// calls republish with the new view before storing it. An error means the
// state was not committed (everything is released): the event must be
// nacked with retry so that its resend redoes the step.
func (t *Txn) Commit(ctx context.Context, republish func(ctx context.Context, view *events.Call, msgID string) error) error {
	if t == nil || t.done {
		return nil
	}
	if t.rec != nil {
		if err := t.commitCall(ctx, republish); err != nil {
			t.Abort()
			return err
		}
	}
	if t.arec != nil && t.agentChange {
		if err := t.commitAgent(ctx); err != nil {
			t.Abort()
			return err
		}
	}
	if t.claim != nil {
		if err := t.claim.Commit(ctx); err != nil {
			t.c.m.stateErrors[opCommitKey].Inc()
		}
		t.claim = nil
	}
	t.Abort() // releases the lock and the talk claim; nothing else is held
	return nil
}

func (t *Txn) commitCall(ctx context.Context, republish func(context.Context, *events.Call, string) error) error {
	c := t.c
	for attempt := 1; ; attempt++ {
		err := c.store.PutCall(ctx, t.callKey, t.rec, t.rev)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrConflict) || attempt >= maxConflictRetries {
			c.m.stateErrors[opPutCall].Inc()
			return err
		}
		if err := conflictBackoff(ctx, attempt); err != nil {
			c.m.stateErrors[opPutCall].Inc()
			return fmt.Errorf("call state kept changing until the deadline: %w", err)
		}
		stored, rev, err := t.readCall(ctx)
		if err != nil {
			return err
		}
		t.rec, t.rev = stored.Clone(), rev
		t.ch = t.rec.Apply(t.in)
		if !t.ch.Changed {
			return nil // another replica applied the same change
		}
		t.stamp()
		if err := republish(ctx, t.view, t.viewID); err != nil {
			return err
		}
	}
	c.m.callCommitted(t.rec, t.ch)
	if c.shared {
		mirror := *t.rec
		mirror.Talk, mirror.MessageIDs, mirror.Parties = nil, events.MessageIDSet{}, nil
		c.mirror.track(t.callKey, &mirror)
	}
	return nil
}

func (t *Txn) commitAgent(ctx context.Context) error {
	c := t.c
	for attempt := 1; ; attempt++ {
		t.arec.Updated = c.now().UnixMilli()
		err := c.store.PutAgent(ctx, t.agentKey, t.arec, t.arev)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrConflict) || attempt >= maxConflictRetries {
			c.m.stateErrors[opPutAgent].Inc()
			return err
		}
		if err := conflictBackoff(ctx, attempt); err != nil {
			c.m.stateErrors[opPutAgent].Inc()
			return fmt.Errorf("agent state kept changing until the deadline: %w", err)
		}
		if err := t.loadAgent(ctx); err != nil {
			return err
		}
		if !t.arec.Apply(t.in.Msg, t.in.SeenAt) {
			return nil
		}
	}
	if c.shared {
		r := *t.arec
		c.mirror.trackAgent(t.agentKey, &r)
	}
	return nil
}

// Abort releases what the Txn holds; it commits nothing. It is safe after
// Commit and safe twice.
func (t *Txn) Abort() {
	if t == nil {
		return
	}
	t.done = true
	if t.claim != nil || t.talkClaim != nil {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		for _, cl := range []*KeyClaim{&t.claim, &t.talkClaim} {
			if *cl == nil {
				continue
			}
			if err := (*cl).Release(ctx); err != nil {
				t.c.m.stateErrors[opReleaseKey].Inc()
			}
			*cl = nil
		}
		cancel()
	}
	if t.locked {
		t.c.unlock(t.callKey)
		t.locked = false
	}
}

// lock takes the process-wide lock of a call, waiting for its holder.
func (c *Correlator) lock(ctx context.Context, key string) error {
	c.mu.Lock()
	for {
		wake, held := c.locks[key]
		if !held {
			c.locks[key] = nil
			c.mu.Unlock()
			return nil
		}
		if wake == nil {
			wake = make(chan struct{})
			c.locks[key] = wake
		}
		c.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
	}
}

func (c *Correlator) unlock(key string) {
	c.mu.Lock()
	wake := c.locks[key]
	delete(c.locks, key)
	c.mu.Unlock()
	if wake != nil {
		close(wake)
	}
}

// talkLockKey is the key claimed around a call's talk details in shared
// mode: one per call, and per token subject when there is one.
func talkLockKey(callKey, subject string) events.Digest {
	if subject != "" {
		return events.KeyDigest("t." + callKey + "\x00s:" + subject)
	}
	return events.KeyDigest("t." + callKey)
}

// conflictBackoff waits before compare-and-set retry number attempt (1, 2,
// ...): a random time up to min(maxConflictWait, 250µs·2^attempt), or until
// ctx ends (then its error).
func conflictBackoff(ctx context.Context, attempt int) error {
	ceiling := maxConflictWait
	if attempt < 10 {
		ceiling = min(ceiling, 250*time.Microsecond<<attempt)
	}
	timer := time.NewTimer(rand.N(ceiling) + time.Microsecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
