package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// drainPoll is how often an async publisher looks whether every ack is in.
const drainPoll = 2 * time.Millisecond

// directMsg is the message the direct paths publish: the event's data on
// directSubject, with the event id as Nats-Msg-Id.
func directMsg(gen *generator) *nats.Msg {
	id, data := gen.next(nil)
	return &nats.Msg{Subject: directSubject, Data: data, Header: nats.Header{jetstream.MsgIDHeader: []string{id}}}
}

// connectNATS opens a nats.go connection to url (nats:// or ws://) that
// does not reconnect, so that a broken connection shows as errors.
func connectNATS(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.NoReconnect())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return nc, nil
}

// natsSyncAgent publishes one event at a time and waits for its PubAck.
type natsSyncAgent struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	gen *generator
}

// newNATSSyncAgent connects a synchronous publisher to url.
func newNATSSyncAgent(url string, gen *generator) (*natsSyncAgent, error) {
	nc, err := connectNATS(url, "callrelay-bench-sync")
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	return &natsSyncAgent{nc: nc, js: js, gen: gen}, nil
}

// run publishes until the span's end.
func (a *natsSyncAgent) run(ctx context.Context, sp *span, st *stats) {
	for ctx.Err() == nil && time.Now().Before(sp.end) {
		msg := directMsg(a.gen)
		at := time.Now()
		if sp.measured(at) {
			st.sent++
		}
		pctx, cancel := context.WithTimeout(ctx, answerTimeout)
		ack, err := a.js.PublishMsg(pctx, msg)
		cancel()
		switch {
		case err != nil:
			st.fail(1, "publish: %v", err)
		case ack.Duplicate:
			st.fail(1, "publish: the stream reports %s a duplicate", msg.Header.Get(jetstream.MsgIDHeader))
		default:
			st.ack(sp, at, time.Now())
		}
	}
}

// close closes the connection.
func (a *natsSyncAgent) close() { a.nc.Close() }

// natsAsyncAgent publishes with PublishMsgAsync: closed loop with up to
// window acks pending, or open loop on a schedule (see schedule) with
// window as the outstanding cap. Acks are taken by handlers on nats.go's
// goroutine; mu guards what they touch.
type natsAsyncAgent struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	gen      *generator
	window   int
	interval time.Duration
	phase    time.Duration
	slots    chan struct{}

	mu       sync.Mutex
	inflight map[*nats.Msg]time.Time
	st       *stats
	sp       *span
}

// newNATSAsyncAgent connects an async publisher to url.
func newNATSAsyncAgent(url string, gen *generator, window int, interval, phase time.Duration) (*natsAsyncAgent, error) {
	nc, err := connectNATS(url, "callrelay-bench-async")
	if err != nil {
		return nil, err
	}
	a := &natsAsyncAgent{nc: nc, gen: gen, window: window, interval: interval, phase: phase,
		slots: make(chan struct{}, window), inflight: map[*nats.Msg]time.Time{}}
	a.js, err = jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(2*window),
		jetstream.WithPublishAsyncAckHandler(a.onAck),
		jetstream.WithPublishAsyncErrHandler(a.onErr))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	return a, nil
}

// onAck records a PubAck.
func (a *natsAsyncAgent) onAck(_ jetstream.JetStream, msg *nats.Msg, ack *jetstream.PubAck) {
	now := time.Now()
	a.answered(msg, func(at time.Time) {
		if ack.Duplicate {
			a.st.fail(1, "the stream reports %s a duplicate", msg.Header.Get(jetstream.MsgIDHeader))
			return
		}
		a.st.ack(a.sp, at, now)
	})
}

// onErr records a failed publish.
func (a *natsAsyncAgent) onErr(_ jetstream.JetStream, msg *nats.Msg, err error) {
	a.answered(msg, func(time.Time) { a.st.fail(1, "async publish: %v", err) })
}

// answered forgets msg and calls record with its send time, unless msg was
// already given up on, and frees its slot.
func (a *natsAsyncAgent) answered(msg *nats.Msg, record func(at time.Time)) {
	a.mu.Lock()
	at, ok := a.inflight[msg]
	if ok {
		delete(a.inflight, msg)
		record(at)
	}
	a.mu.Unlock()
	if ok {
		<-a.slots
	}
}

// run publishes until the span's end, then waits for the acks.
func (a *natsAsyncAgent) run(ctx context.Context, sp *span, st *stats) {
	a.mu.Lock()
	a.st, a.sp = st, sp
	a.mu.Unlock()
	s := schedule{sp: sp, interval: a.interval, phase: a.phase}
	for k := 0; ; k++ {
		at, ok := s.wait(ctx, k)
		if !ok {
			if n := s.leftOver(k); n > 0 {
				a.mu.Lock()
				st.sent += n
				st.note("%d events not sent: the agent fell behind its schedule", n)
				a.mu.Unlock()
			}
			break
		}
		if !a.takeSlot(ctx, s.open() && sp.measured(at)) {
			break
		}
		if !s.open() {
			at = time.Now()
		}
		msg := directMsg(a.gen)
		a.mu.Lock()
		a.inflight[msg] = at
		if sp.measured(at) {
			st.sent++
		}
		a.mu.Unlock()
		if _, err := a.js.PublishMsgAsync(msg); err != nil {
			a.answered(msg, func(time.Time) { st.fail(1, "async publish: %v", err) })
			if a.nc.IsClosed() {
				break
			}
		}
	}
	a.drain(ctx, sp)
}

// takeSlot waits for room in the window, counting a cap hit when it must
// wait and capHit says so; false when ctx ended.
func (a *natsAsyncAgent) takeSlot(ctx context.Context, capHit bool) bool {
	select {
	case a.slots <- struct{}{}:
		return true
	default:
	}
	if capHit {
		a.mu.Lock()
		a.st.capHits++
		a.mu.Unlock()
	}
	select {
	case a.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// drain waits until every ack is in, or until the deadline (closed loop:
// answerTimeout from now; open loop: the span's end plus its grace), and
// counts what is still pending as missing (as errors in the closed loop).
func (a *natsAsyncAgent) drain(ctx context.Context, sp *span) {
	deadline := time.Now().Add(answerTimeout)
	if a.interval > 0 {
		deadline = sp.end.Add(sp.grace)
	}
	for ctx.Err() == nil && time.Now().Before(deadline) {
		a.mu.Lock()
		n := len(a.inflight)
		a.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(drainPoll)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.missing(len(a.inflight), a.interval > 0, "no PubAck within the wait")
	clear(a.inflight)
}

// close closes the connection.
func (a *natsAsyncAgent) close() { a.nc.Close() }
