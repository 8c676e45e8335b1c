package relay

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/events"
)

// pipeline takes one received event from frame to answer: id and time
// checks, decode and validation, dedup, correlation, publish (the event,
// then the call view), and the ack or nack. It is
// shared by the WebSocket and HTTP transports and safe for concurrent use;
// events of one connection are handled one after another by its reader, which
// keeps them in order.
type pipeline struct {
	subjects events.Subjects
	opts     events.Options
	sink     Sink
	dedup    *Dedup
	corr     *correlator
	m        *metrics
	timeout  time.Duration
	draining atomic.Bool
}

// incoming is one event as a transport received it.
type incoming struct {
	frame        inFrame
	validUTF8    bool   // the bytes the frame came in were valid UTF-8
	via          string // "ws" or "http"
	agentSubject string // from the client's token, if any
	receivedAt   time.Time
}

// handle answers one event. Every path ends in exactly one Result, and an ack
// only after the sink has taken the event.
func (p *pipeline) handle(ctx context.Context, in incoming, log zerolog.Logger) Result {
	id, echo, ok := parseID(in.frame.ID)
	if !ok {
		// Too malformed to carry an id: counted and logged, not published.
		p.m.received.WithLabelValues(typeInvalid).Inc()
		p.m.rejected.WithLabelValues(CodeInvalidID).Inc()
		log.Warn().Str("code", CodeInvalidID).Str("via", in.via).Msg("event refused")
		return nack(echo, CodeInvalidID, "id must be a string of 1-128 characters from A-Z a-z 0-9 . _ : -")
	}
	log = log.With().Str("event", id).Logger()
	seenAt, ok := parseSeenAt(in.frame.SeenAt)
	if !ok {
		return p.refuse(ctx, in, id, nil, events.Errorf(CodeInvalidSeenAt, "seenAt must be an RFC 3339 time or milliseconds since the epoch"), log)
	}
	if !in.validUTF8 {
		return p.refuse(ctx, in, id, &seenAt, events.Errorf(events.EInvalidUTF8, "the frame is not valid UTF-8"), log)
	}
	if len(in.frame.Data) == 0 || string(in.frame.Data) == "null" {
		return p.refuse(ctx, in, id, &seenAt, events.Errorf(CodeInvalidFrame, "an event frame needs data: the workbench's event.data"), log)
	}
	msg, err := events.Parse(in.frame.Data, p.opts)
	if err != nil {
		return p.refuse(ctx, in, id, &seenAt, err, log)
	}
	p.m.received.WithLabelValues(msg.Type).Inc()
	if p.draining.Load() {
		p.m.retryable.WithLabelValues(CodeDraining).Inc()
		return nack(id, CodeDraining, "the relay is shutting down; send the event again")
	}

	claim, dup, err := p.dedup.Claim(ctx, id)
	if err != nil {
		// Another copy of this id was still being published when time ran out.
		p.m.retryable.WithLabelValues(CodeSinkUnavailable).Inc()
		return nack(id, CodeSinkUnavailable, "the event could not be published; send it again later")
	}
	if dup {
		p.m.duplicates.WithLabelValues("relay").Inc()
		log.Debug().Msg("duplicate event acknowledged")
		return Result{ID: id, Status: StatusDuplicate}
	}
	ev := events.NewEvent(msg, id, p.subjects.Tenant, in.agentSubject, seenAt, in.receivedAt)
	bctx, cancel := context.WithTimeout(ctx, p.timeout)
	st, dupKind, err := p.corr.begin(bctx, msg, ev, in.agentSubject, seenAt)
	cancel()
	if err != nil {
		claim.Release()
		p.m.retryable.WithLabelValues(CodeSinkUnavailable).Inc()
		log.Warn().Err(err).Msg("correlation state unavailable; client will retry")
		return nack(id, CodeSinkUnavailable, "the event could not be published; send it again later")
	}
	if dupKind != "" {
		// Already published under another id (content key), or the same
		// talk details as the call's last ones: acknowledged, not republished.
		claim.Commit()
		log.Debug().Str("duplicate", dupKind).Msg("repeat acknowledged")
		return Result{ID: id, Status: StatusDuplicate}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		st.abort(ctx)
		claim.Release()
		p.m.retryable.WithLabelValues(CodeInternal).Inc()
		log.Error().Err(err).Msg("encode event")
		return nack(id, CodeInternal, "internal error")
	}
	sinkDup, err := p.publish(ctx, Envelope{Subject: p.subjects.For(msg), ID: id, Data: body})
	if err != nil {
		st.abort(ctx)
		claim.Release()
		p.m.retryable.WithLabelValues(CodeSinkUnavailable).Inc()
		log.Warn().Err(err).Msg("publish failed; client will retry")
		return nack(id, CodeSinkUnavailable, "the event could not be published; send it again later")
	}
	// The event is stored. Publish the call view and commit the
	// correlation; if that fails the event is nacked with retry and nothing
	// is committed, so the resend (a duplicate for a JetStream sink) redoes it.
	fctx, cancel := context.WithTimeout(ctx, p.timeout)
	err = st.finish(fctx, func(view *events.Call, msgID string) error {
		body, err := json.Marshal(view)
		if err != nil {
			return err
		}
		dup, err := p.publish(ctx, Envelope{Subject: p.subjects.Call(), ID: msgID, Data: body})
		if err == nil && !dup {
			p.m.published.WithLabelValues(kindCall).Inc()
		}
		return err
	}, log)
	cancel()
	if err != nil {
		claim.Release()
		p.m.retryable.WithLabelValues(CodeSinkUnavailable).Inc()
		log.Warn().Err(err).Msg("call view or correlation state not stored; client will retry")
		return nack(id, CodeSinkUnavailable, "the event could not be published; send it again later")
	}
	claim.Commit()
	if sinkDup {
		p.m.duplicates.WithLabelValues("sink").Inc()
		log.Debug().Msg("duplicate event acknowledged by the sink")
		return Result{ID: id, Status: StatusDuplicate}
	}
	p.m.published.WithLabelValues(msg.Type).Inc()
	if msg.Type == events.TypeCallBarEvent && !msg.Known {
		p.m.unknownIDs.Inc()
	}
	log.Debug().Str("type", msg.Type).Str("messageID", msg.MessageID).Msg("event published")
	return Result{ID: id, Status: StatusPublished}
}

// refuse publishes a refused event to the rejected subject and answers a
// nack with retry:false. If the rejected subject cannot be written either, the
// answer is a retryable nack instead: the client keeps the event, and it is
// refused (and recorded) when it comes back.
func (p *pipeline) refuse(ctx context.Context, in incoming, id string, seenAt *time.Time, cause error, log zerolog.Logger) Result {
	code := events.ErrorCode(cause)
	if code == "" {
		code = CodeInternal
	}
	p.m.received.WithLabelValues(typeInvalid).Inc()
	rej := events.NewRejection(id, p.subjects.Tenant, in.via, cause, in.frame.Data, seenAt, in.receivedAt)
	body, err := json.Marshal(rej)
	if err == nil {
		_, err = p.publish(ctx, Envelope{Subject: p.subjects.Rejected(), ID: "rejected:" + id, Data: body})
	}
	if err != nil {
		p.m.retryable.WithLabelValues(CodeSinkUnavailable).Inc()
		log.Warn().Err(err).Str("code", code).Msg("refused event could not be recorded; client will retry")
		return nack(id, CodeSinkUnavailable, "the event could not be recorded; send it again later")
	}
	p.m.published.WithLabelValues("rejected").Inc()
	p.m.rejected.WithLabelValues(code).Inc()
	log.Warn().Str("code", code).Str("reason", events.ErrorMessage(cause)).Str("via", in.via).Msg("event refused")
	msg := events.ErrorMessage(cause)
	if msg == "" {
		msg = "internal error"
	}
	return Result{ID: id, Code: code, Message: msg, Retry: false}
}

// publish hands env to the sink within the publish timeout.
func (p *pipeline) publish(ctx context.Context, env Envelope) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	dup, err := p.sink.Publish(ctx, env)
	result := "ok"
	if err != nil {
		result = "error"
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			result = "canceled"
		}
	}
	p.m.publishDuration.WithLabelValues(result).Observe(time.Since(start).Seconds())
	return dup, err
}
