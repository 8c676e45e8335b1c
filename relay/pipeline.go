package relay

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/redact"
)

// pipeline takes one received event from frame to answer, in the flow of
// DESIGN §2: admit (id, time), decode and validate, dedup, correlate and
// enrich, publish (the event and its call view together), then, in the
// order the events were received, commit and answer. It is shared by the
// WebSocket and HTTP transports and safe for concurrent use.
//
// start does everything up to handing the messages to the sink and returns
// at once; the sink completes the slot; finish, called in receive order,
// commits the correlation (or aborts it) and returns the answer. Between
// the two, a connection can have several events in flight.
type pipeline struct {
	subjects  events.Subjects
	opts      events.Options
	sink      Sink
	dedup     *correlate.Dedup
	corr      *correlate.Correlator
	m         *metrics
	timeout   time.Duration
	ctx       context.Context // the server's: bounds commits still running at shutdown
	draining  atomic.Bool
	slots     sync.Pool
	bufs      sync.Pool
	tenants   tenantCache    // subjects and CloudEvents names per tenant, made once
	gens      Generations    // the sink's, when it has them
	redact    *redact.Policy // nil: publish everything as received
	redactVer string         // the policy's version, carried by every published message
	sign      signCheck      // the Sobot sign check (sign.go)
	maxTalk   int            // bounds (limits.go)
	maxSkew   time.Duration
}

// incoming is one event frame as a transport received it.
type incoming struct {
	f            *frame
	validUTF8    bool        // the bytes the frame came in were valid UTF-8
	via          string      // "ws" or "http"
	agentSubject string      // from the client's token, if any
	tenant       string      // from the client's token, if any ("": the relay's own)
	guard        *orderGuard // the client's, for the order of its publishes (nil: none)
	receivedAt   time.Time
}

// notifier is told when a slot it owns has all its publishes complete.
type notifier interface{ notify() }

// Tags of the two messages an event may publish.
const (
	tagEvent = iota
	tagView
	tagRejected
)

// slot is one event on its way: what start found and began, and what the
// sink reported. A slot is owned by one connection's queue or one batch.
type slot struct {
	owner  notifier
	readAt time.Time
	gen    uint64 // the client's order generation when the slot was made (see conn.gen)

	// Set by start.
	res      Result // the answer, when ready without publishing
	ready    bool
	raw      []byte // a frame other than an answer (welcome), written as is
	id       string
	typ      string // the event's data.type, for the metrics
	known    bool
	rejected string // the code of a refused event being recorded on the rejected subject
	claim    correlate.Claim
	txn      *correlate.Txn
	pubStart time.Time
	obs      *metrics // where each publish's duration is observed
	guard    *orderGuard

	// Set by the sink's completions, read after outstanding reaches 0.
	outstanding atomic.Int32
	mu          sync.Mutex
	err         error
	duplicate   bool // the event itself was a duplicate in the sink
}

// Published records one publish's outcome; the last one tells the owner.
func (s *slot) Published(tag int, duplicate bool, err error) {
	if s.obs != nil && !s.pubStart.IsZero() {
		s.obs.observe(time.Since(s.pubStart), err)
	}
	s.mu.Lock()
	if err != nil && s.err == nil {
		s.err = err
	}
	if tag == tagEvent {
		s.duplicate = duplicate
	}
	owner, guard, gen := s.owner, s.guard, s.gen // read before the last decrement: the slot may be freed right after it
	failed := s.err != nil
	s.mu.Unlock()
	if s.outstanding.Add(-1) == 0 {
		if guard != nil {
			guard.done(gen, failed)
		}
		owner.notify()
	}
}

// complete reports whether the slot can be finished.
func (s *slot) complete() bool { return s.ready || s.outstanding.Load() == 0 }

func (p *pipeline) newSlot(owner notifier, readAt time.Time) *slot {
	s, _ := p.slots.Get().(*slot)
	if s == nil {
		s = &slot{}
	}
	s.owner, s.readAt = owner, readAt
	return s
}

// freeSlot returns a finished slot to the pool.
func (p *pipeline) freeSlot(s *slot) {
	s.owner, s.txn, s.err, s.claim = nil, nil, nil, correlate.Claim{}
	s.res, s.ready, s.id, s.typ, s.known, s.rejected, s.duplicate = Result{}, false, "", "", false, "", false
	s.gen, s.raw, s.pubStart, s.obs, s.guard = 0, nil, time.Time{}, nil, nil
	p.slots.Put(s)
}

// answer makes s ready with res.
func answer(s *slot, res Result) {
	s.res, s.ready = res, true
}

// start admits, decodes, dedups and correlates one event and hands its
// messages to the sink. s is ready afterwards when the answer needed no
// publish; otherwise the sink completes it.
func (p *pipeline) start(ctx context.Context, in incoming, s *slot, log zerolog.Logger) {
	f := in.f
	id, echo, ok := parseID(f.id)
	if !ok {
		// Too malformed to carry an id: counted and logged, not published.
		p.m.receivedInvalid.Inc()
		p.m.rejectedCode(CodeInvalidID).Inc()
		log.Warn().Str("code", CodeInvalidID).Str("via", in.via).Msg("event refused")
		answer(s, nack(echo, CodeInvalidID, "id must be a string of 1-128 characters from A-Z a-z 0-9 . _ : -"))
		return
	}
	s.id = id
	gen := p.sinkGeneration() // read before any publish of this event
	if in.guard != nil && in.guard.mustHold(gen) {
		p.m.retryableCode(CodeHeldForOrder).Inc()
		answer(s, nack(id, CodeHeldForOrder, "an earlier event of this connection was not published; send it first"))
		return
	}
	seenAt, ok := parseSeenAt(f.seenAt)
	switch {
	case !ok:
		p.refuse(in, s, nil, events.Errorf(CodeInvalidSeenAt, "seenAt must be an RFC 3339 time or milliseconds since the epoch"))
		return
	case !in.validUTF8:
		p.refuse(in, s, &seenAt, events.Errorf(events.EInvalidUTF8, "the frame is not valid UTF-8"))
		return
	case !f.hasData:
		p.refuse(in, s, &seenAt, events.Errorf(CodeInvalidFrame, "an event frame needs data: the workbench's event.data"))
		return
	case f.dataErr != nil:
		p.refuse(in, s, &seenAt, f.dataErr)
		return
	}
	msg := f.msg
	signature, ok := p.admit(in, s, &seenAt, msg) // on the values as received
	if !ok {
		return
	}
	agentSubject := in.agentSubject
	if !p.redact.None() {
		// Everything after this point, the correlation state included,
		// sees only the policy's view of the message.
		rb := p.buf()
		defer p.bufs.Put(rb)
		var err error
		if msg, err = p.redacted(rb, f.rawData); err != nil {
			// The policy keeps what validation needs: this is a bug.
			p.m.retryableCode(CodeInternal).Inc()
			log.Error().Str("event", id).Str("error", events.ErrorCode(err)).Msg("event could not be redacted")
			answer(s, nack(id, CodeInternal, "internal error"))
			return
		}
		agentSubject = p.redact.Subject(agentSubject)
	}
	s.typ, s.known = msg.Type, msg.Known
	p.m.receivedType(msg.Type).Inc()
	if p.draining.Load() {
		p.m.retryableCode(CodeDraining).Inc()
		answer(s, nack(id, CodeDraining, "the relay is shutting down; send the event again"))
		return
	}

	// No deadline of its own: the waits below (a copy of the same id, an
	// earlier event of the same call) end when their holder is finished,
	// which the sink bounds by its publish timeout; the shared state bounds
	// each of its requests itself.
	cctx := ctx
	tn := p.tenants.get(in.tenant)
	// Each tenant's ids are its own: the id window takes the message id
	// (<tenant>/<id> for a tenant from a token), as a restart restores it.
	claim, dup, err := p.dedup.Claim(cctx, p.dedup.KeyOf(tn.msgID(id)))
	if err != nil {
		// Another copy of this id was still being published when time ran out.
		p.m.retryableCode(CodeSinkUnavailable).Inc()
		answer(s, nack(id, CodeSinkUnavailable, "the event could not be published; send it again later"))
		return
	}
	if dup {
		p.m.dupRelay.Inc()
		log.Debug().Str("event", id).Msg("duplicate event acknowledged")
		answer(s, Result{ID: id, Status: StatusDuplicate})
		return
	}
	ev := events.NewEvent(msg, id, tn.subjects.Tenant, agentSubject, seenAt, in.receivedAt)
	ev.Redaction, ev.Signature = p.redactVer, signature
	txn, err := p.corr.Begin(cctx, correlate.Input{Msg: msg, Event: ev, AgentSubject: agentSubject, Tenant: tn.subjects.Tenant, SeenAt: seenAt})
	if err != nil {
		claim.Release()
		p.m.retryableCode(CodeSinkUnavailable).Inc()
		log.Warn().Err(err).Str("event", id).Msg("correlation state unavailable; client will retry")
		answer(s, nack(id, CodeSinkUnavailable, "the event could not be published; send it again later"))
		return
	}
	if txn.Dup != "" {
		// Already published under another id (content key), or the same
		// talk details as the call's last ones: acknowledged, not republished.
		claim.Commit()
		log.Debug().Str("event", id).Str("duplicate", txn.Dup).Msg("repeat acknowledged")
		answer(s, Result{ID: id, Status: StatusDuplicate})
		return
	}
	s.claim, s.txn = claim, txn
	view, viewID, hasView := txn.View()
	n := int32(1)
	if hasView {
		n = 2
	}
	s.outstanding.Store(n)
	if in.guard != nil {
		s.guard = in.guard
		in.guard.published(gen)
	}
	s.pubStart, s.obs = time.Now(), p.m
	if p.redact.DropsTalk() {
		ev.Talk = nil
	}
	buf := p.buf()
	*buf = ev.AppendJSON((*buf)[:0])
	subject, ceType := tn.namesFor(msg)
	at := ceTime(in.receivedAt) // the event's and its view's ce-time
	p.sink.Publish(Envelope{Subject: subject, ID: tn.msgID(id), Type: ceType, Source: tn.source, CallID: ev.CallID, Time: at, Data: *buf}, s, tagEvent)
	if hasView {
		view.Redaction = p.redactVer
		if p.redact.DropsCustomer() {
			view.Customer = nil
		}
		*buf = view.AppendJSON((*buf)[:0])
		p.sink.Publish(Envelope{Subject: tn.call, ID: viewID, Type: ceTypeCall, Source: tn.source, CallID: view.CallID, Time: at, Data: *buf}, s, tagView)
	}
	p.bufs.Put(buf)
}

// finish ends a complete slot, in receive order: it commits the
// correlation and the dedup claim when every message was stored, or gives
// them up, and returns the answer. held is true when an earlier event of
// the same connection was answered with retry: the slot is then answered
// with retry too, whatever its publish did (DESIGN §4).
func (p *pipeline) finish(s *slot, held bool, via string, log zerolog.Logger) Result {
	if s.ready {
		return s.res
	}
	s.mu.Lock()
	err, sinkDup := s.err, s.duplicate
	s.mu.Unlock()
	if held {
		if s.rejected == "" {
			s.txn.Abort()
			s.claim.Release()
		}
		p.m.retryableCode(CodeHeldForOrder).Inc()
		return nack(s.id, CodeHeldForOrder, "an earlier event of this connection was not published; send this one again after it")
	}
	if s.rejected != "" {
		return p.finishRefusal(s, err, via, log)
	}
	if err == nil {
		err = s.txn.Commit(p.ctx, p.republish)
	}
	if err != nil {
		s.txn.Abort()
		s.claim.Release()
		p.m.retryableCode(CodeSinkUnavailable).Inc()
		log.Warn().Err(err).Str("event", s.id).Msg("event or call view not stored; client will retry")
		return nack(s.id, CodeSinkUnavailable, "the event could not be published; send it again later")
	}
	s.claim.Commit()
	if _, _, ok := s.txn.View(); ok {
		p.m.publishedCall.Inc()
	}
	if sinkDup {
		p.m.dupSink.Inc()
		log.Debug().Str("event", s.id).Msg("duplicate event acknowledged by the sink")
		return Result{ID: s.id, Status: StatusDuplicate}
	}
	p.m.publishedType(s.typ).Inc()
	if s.typ == events.TypeCallBarEvent && !s.known {
		p.m.unknownIDs.Inc()
	}
	return Result{ID: s.id, Status: StatusPublished}
}

// refuse records a refused event on the rejected subject; finish answers
// it with retry:false once that is stored. If the rejected subject cannot
// be written either, the answer is a retryable nack instead: the client
// keeps the event, and it is refused (and recorded) when it comes back.
func (p *pipeline) refuse(in incoming, s *slot, seenAt *time.Time, cause error) {
	code := events.ErrorCode(cause)
	if code == "" {
		code = CodeInternal
	}
	p.m.receivedInvalid.Inc()
	s.rejected = code
	s.res = Result{ID: s.id, Code: code, Message: events.ErrorMessage(cause), Retry: false}
	if s.res.Message == "" {
		s.res.Message = "internal error"
	}
	data := rejectedData(in.f)
	if !p.redact.None() {
		// Only data the policy can read field by field is published.
		red, ok := p.redact.Data(nil, data)
		if !ok {
			red = nil
		}
		data = red
	}
	tn := p.tenants.get(in.tenant)
	rej := events.NewRejection(s.id, tn.subjects.Tenant, in.via, cause, data, seenAt, in.receivedAt)
	rej.Redaction = p.redactVer
	body, err := json.Marshal(rej)
	if err != nil {
		s.Published(tagRejected, false, err) // answered as retryable by finish
		return
	}
	s.outstanding.Store(1)
	if in.guard != nil {
		s.guard = in.guard
		in.guard.published(p.sinkGeneration())
	}
	s.pubStart, s.obs = time.Now(), p.m
	p.sink.Publish(Envelope{
		Subject: tn.rejected, ID: tn.msgID("rejected:" + s.id), Type: ceTypeRejected, Source: tn.source,
		Time: ceTime(in.receivedAt), Data: body,
	}, s, tagRejected)
}

func (p *pipeline) finishRefusal(s *slot, err error, via string, log zerolog.Logger) Result {
	if err != nil {
		p.m.retryableCode(CodeSinkUnavailable).Inc()
		log.Warn().Err(err).Str("event", s.id).Str("code", s.rejected).Msg("refused event could not be recorded; client will retry")
		return nack(s.id, CodeSinkUnavailable, "the event could not be recorded; send it again later")
	}
	p.m.publishedRejected.Inc()
	p.m.rejectedCode(s.rejected).Inc()
	log.Warn().Str("event", s.id).Str("code", s.rejected).Str("reason", s.res.Message).Str("via", via).Msg("event refused")
	return s.res
}

// republish stores a call view again after a compare-and-set conflict with
// another replica, waiting for the sink.
func (p *pipeline) republish(ctx context.Context, view *events.Call, msgID string) error {
	tn := p.tenants.get(view.Tenant)
	w := &waiter{done: make(chan error, 1)}
	p.sink.Publish(Envelope{
		Subject: tn.call, ID: msgID, Type: ceTypeCall, Source: tn.source, CallID: view.CallID,
		Time: ceTime(view.UpdatedAt), Data: view.AppendJSON(nil),
	}, w, tagView)
	select {
	case err := <-w.done:
		if err == nil {
			p.m.publishedCall.Inc()
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waiter is a Completion for one message that someone waits for.
type waiter struct{ done chan error }

func (w *waiter) Published(_ int, _ bool, err error) { w.done <- err }

// buf returns an encoding buffer from the pool.
func (p *pipeline) buf() *[]byte {
	if b, ok := p.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 2048)
	return &b
}

// redacted returns the message data as the policy leaves it, parsed again,
// in *rb, which the caller keeps until the message is no longer used. The
// policy keeps every field the relay validates and correlates on, so the
// message parses as the original did; the size limit allows for the
// pseudonyms being longer than the values they replace.
func (p *pipeline) redacted(rb *[]byte, data []byte) (*events.Message, error) {
	out, ok := p.redact.Data((*rb)[:0], data)
	*rb = out
	if !ok {
		return nil, events.Errorf(CodeInternal, "the policy could not read the event")
	}
	opts := p.opts
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = events.DefaultMaxBytes
	}
	opts.MaxBytes = 2*opts.MaxBytes + 4096
	return events.Parse(out, opts)
}

// rejectedData is the event data to put on the rejected subject.
func rejectedData(f *frame) []byte {
	if f == nil {
		return nil
	}
	return f.rawData
}
