package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
)

// conn is one WebSocket client. An idle connection costs one goroutine
// (its reader, the HTTP handler's own) and no buffers of its own beyond the
// read buffer: answers are written by an acker goroutine that runs only
// while events are in flight, pings by a timer.
//
// The reader reads frames, decodes them and starts each event in the
// pipeline (up to the window in flight), appending a slot to the queue in
// receive order. The acker finishes the slots in that order as the sink
// completes them and writes their answers, several in one write when
// several are ready. Every write goes to the socket directly, under wmu,
// as raw WebSocket frames: gorilla is used for the handshake and reading
// only, so that a batch of acks is one syscall. Its ping and close handlers
// are replaced by ones that write through wmu too, and the close frames
// gorilla still writes on its own (after a protocol error or a frame over
// the read limit) reach the socket through wmu as well (gorillaConn).
type conn struct {
	s        *Server
	ws       *websocket.Conn
	nc       net.Conn
	log      zerolog.Logger
	draining atomic.Bool
	drainEnd atomic.Int64 // unix ns: the last moment a draining connection reads
	session  string

	// Set by the reader only. authed is true once the hello frame's token
	// was accepted (always true when tokens are not required);
	// agentSubject is the token's subject.
	authed       bool
	agentSubject string
	tenant       string // the token's tenant claim, "" for the relay's own
	lastExtend   time.Time
	rate         bucket    // the event rate limit
	limitLogged  time.Time // when the rate limit was last logged
	f            frame     // the frame being handled, reused
	// end, when its code is set by handleFrame, is the close frame to end
	// the connection with and why (for the log and metric).
	end struct {
		code        int
		reason, why string
	}

	mu         sync.Mutex
	q          []*slot       // answers to write, in receive order
	qbuf       []*slot       // the array q starts at, kept between bursts
	payload    []byte        // an answer being encoded (by the processing goroutine)
	processing bool          // a goroutine is finishing slots and writing answers
	ackerOn    bool          // the acker goroutine runs
	wake       chan struct{} // a slot completed (capacity 1)
	space      chan struct{} // the queue has room again, or the acker stopped (capacity 1)
	idle       chan struct{} // closed when the queue is found empty, if set
	// The order rule (DESIGN §4): once an event is answered with retry,
	// every later event of the connection is held (answered with retry,
	// not stored) until the client sends that event again. Events are
	// counted in order generations: the first answer with retry of an
	// event of the current generation (gen) halts the connection, with
	// that event as the barrier, and ends the generation (failGen = gen,
	// gen+1). Every event of a generation up to failGen still in the
	// queue is answered held_for_order, whatever its publish did; every
	// event read while halted, except the barrier, is answered
	// held_for_order without being started. Answers given because of a
	// halt never set one, so the barrier stays the earliest event answered
	// with retry. The guard holds events while an earlier one may still be
	// answered with retry and no halt covers it yet.
	halted  bool
	guard   orderGuard
	barrier string
	gen     uint64
	failGen uint64
	broken  bool // a write failed: answers are no longer written

	wmu  sync.Mutex // serialises writes to nc
	ping *time.Timer
}

// serveWS admits a WebSocket client and runs it until it ends.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !s.origins.Allowed(r) {
		s.log.Warn().Str("path", r.URL.Path).Str("origin", r.Header.Get("Origin")).Msg("websocket refused: origin not allowed")
		s.m.connClosed.WithLabelValues("origin_not_allowed").Inc()
		writeError(w, CodeOriginNotAllowed, "origin not allowed")
		return
	}
	if s.draining.Load() {
		writeError(w, CodeNotReady, "the relay is shutting down")
		return
	}
	if !s.admitConn() {
		s.refuseConn(w)
		return
	}
	gc := &gorillaConn{}
	ws, err := s.upgrader.Upgrade(hijacker{w, gc}, r, nil)
	if err != nil {
		s.open.Add(-1)
		// The upgrader has answered the request with its Error function.
		s.log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	c := &conn{
		s:     s,
		ws:    ws,
		nc:    gc.Conn,
		wake:  make(chan struct{}, 1),
		space: make(chan struct{}, 1),
		gen:   1,
	}
	gc.c = c
	c.log = s.log.With().Str("conn", newConnID()).Str("remote", remoteHost(r)).Logger()
	if !s.track(c) {
		s.open.Add(-1)
		c.writeClose(closeGoingAway, "relay shutting down")
		_ = c.nc.Close()
		return
	}
	// The connection runs on a goroutine of its own and the handler
	// returns: net/http then lets go of the request's buffers and state,
	// which would otherwise stay pinned for the connection's whole life.
	go func() {
		defer s.open.Add(-1)
		defer s.untrack(c)
		s.m.connections.Inc()
		defer s.m.connections.Dec()
		c.log.Debug().Msg("websocket connected")
		reason := c.run()
		s.m.connClosed.WithLabelValues(reason).Inc()
		c.log.Debug().Str("reason", reason).Msg("websocket closed")
	}()
}

// run reads until the connection ends and returns why it ended.
func (c *conn) run() (reason string) {
	// A pointer, not a copy: the Config is large, and this frame stays on
	// the stack of every idle connection (a copy pushed it past the 2 KiB
	// that lets the runtime shrink an idle reader's stack to 4 KiB).
	cfg := &c.s.cfg
	// gorilla refuses a frame as soon as its header declares more than the
	// limit (ErrReadLimit); readFrame checks the bytes read as well.
	c.ws.SetReadLimit(int64(cfg.MaxMessageBytes))
	c.authed = c.s.tokens == nil
	if c.authed {
		_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	} else {
		_ = c.ws.SetReadDeadline(time.Now().Add(cfg.HelloTimeout))
	}
	c.ws.SetPongHandler(func(string) error {
		c.extendReadDeadline(time.Now(), true)
		return nil
	})
	// Control frames are answered through this connection's own writes,
	// never gorilla's, so that no two writers share the socket.
	c.ws.SetPingHandler(func(data string) error {
		c.writeControl(websocket.PongMessage, []byte(data))
		return nil
	})
	c.ws.SetCloseHandler(func(code int, _ string) error {
		if code == websocket.CloseNoStatusReceived {
			code = closeNormal
		}
		c.writeClose(code, "")
		return nil
	})
	c.ping = time.AfterFunc(cfg.PingInterval, c.sendPing)
	defer c.ping.Stop()

	closeCode, closeReason := 0, ""
	for {
		if c.draining.Load() {
			// The quiet time counts from when the reader is ready again
			// (it may have waited for room in the window).
			_ = c.ws.SetReadDeadline(c.drainDeadline(time.Now()))
		}
		mt, r, err := c.ws.NextReader()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				reason, _, _ = c.tooLarge() // gorilla has sent the close frame (gorillaConn)
			} else {
				reason, closeCode, closeReason = c.readEnd(err)
			}
			break
		}
		readAt := time.Now()
		c.extendReadDeadline(readAt, false)
		if mt != websocket.TextMessage {
			reason, closeCode, closeReason = "binary_frame", closeUnsupported, "binary frames are not supported; send JSON text frames"
			c.s.m.rejected.WithLabelValues(CodeInvalidFrame).Inc()
			c.log.Warn().Msg("binary frame: closing")
			break
		}
		buf := c.s.p.buf()
		data, err := readFrame(r, (*buf)[:0], cfg.MaxMessageBytes)
		*buf = data[:0]
		if errors.Is(err, websocket.ErrReadLimit) {
			c.s.p.bufs.Put(buf)
			reason, _, _ = c.tooLarge() // a later fragment over the limit: as above
			break
		}
		if errors.Is(err, errFrameTooLarge) {
			c.s.p.bufs.Put(buf)
			reason, closeCode, closeReason = c.tooLarge()
			break
		}
		if err != nil {
			c.s.p.bufs.Put(buf)
			reason, closeCode, closeReason = c.readEnd(err)
			break
		}
		ok := c.handleFrame(data, readAt)
		c.s.p.bufs.Put(buf) // the frame's bytes are not used after handleFrame
		if !ok {
			reason = "writer_failed"
			if c.end.code != 0 {
				reason, closeCode, closeReason = c.end.why, c.end.code, c.end.reason
			}
			break
		}
	}
	// Every event read gets its answer before the close frame.
	c.waitAnswered(cfg.PublishTimeout + cfg.WriteWait)
	if closeCode != 0 {
		c.writeClose(closeCode, closeReason)
	}
	_ = c.nc.Close()
	return reason
}

// tooLarge counts and logs a frame over the size limit and returns how the
// connection ends. A frame whose header declares too much is refused as soon
// as the header is read (gorilla's read limit), before its payload; gorilla
// then sends the close frame itself, which gorillaConn gives the reason.
func (c *conn) tooLarge() (reason string, closeCode int, closeReason string) {
	limit := c.s.cfg.MaxMessageBytes
	c.s.m.rejected.WithLabelValues("too_large").Inc()
	c.log.Warn().Int("limit", limit).Msg("frame over the limit: closing")
	return "too_large", closeTooBig, tooLargeReason(limit)
}

// errFrameTooLarge is a frame over the size limit.
var errFrameTooLarge = errors.New("frame too large")

// readFrame reads one frame's payload into buf, up to limit bytes.
func readFrame(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return buf, errFrameTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// handleFrame starts or answers one text frame. It returns false when the
// connection must end.
func (c *conn) handleFrame(data []byte, readAt time.Time) bool {
	if !c.authed {
		return c.authenticate(data)
	}
	var err error
	c.f, err = decodeFrame(data, c.s.p.opts)
	f := &c.f
	if err != nil {
		c.s.m.receivedInvalid.Inc()
		c.s.m.rejectedCode(CodeInvalidFrame).Inc()
		c.log.Warn().Str("code", CodeInvalidFrame).Msg("frame is not a JSON object")
		return c.answerNow(readAt, nack("", CodeInvalidFrame, "the frame must be a JSON object: "+frameErrorText(err)))
	}
	switch f.typ {
	case frameEvent:
		return c.startEvent(f, utf8.Valid(data), readAt)
	case frameHello:
		return c.hello(f.session, f.client, readAt)
	default:
		_, echo, _ := parseID(f.id)
		c.s.m.receivedInvalid.Inc()
		c.s.m.rejectedCode(CodeInvalidFrame).Inc()
		c.log.Warn().Str("code", CodeInvalidFrame).Msg("unknown frame type")
		return c.answerNow(readAt, nack(echo, CodeInvalidFrame, `the frame type must be "hello" or "event"`))
	}
}

// startEvent starts one event in the pipeline and queues its slot, after
// waiting for room in the window.
//
// The halt, the event's generation and the guard's failures are read
// together, under c.mu, after the wait for room: the acker may set a halt
// meanwhile, and an event read before it must belong to the generation
// the halt ends, and one read after it must see it.
func (c *conn) startEvent(f *frame, validUTF8 bool, readAt time.Time) bool {
	p := c.s.p
	if !c.waitRoom() {
		return false
	}
	s := p.newSlot(c, readAt)
	id, _, ok := parseID(f.id)
	c.mu.Lock()
	switch {
	case ok && c.halted && id != c.barrier:
		// Behind the halt: answered as part of it.
		s.gen = c.failGen
		c.mu.Unlock()
		return c.push(holdForOrder(p, s, id))
	case ok && c.halted:
		c.halted = false // the barrier, sent again: handled as usual
	}
	s.gen = c.gen
	// A failure of this generation has no halt yet: its answer will set one.
	hold := ok && c.guard.failedAfter(c.failGen)
	c.mu.Unlock()
	if hold {
		return c.push(holdForOrder(p, s, id))
	}
	if !c.rate.take(readAt, c.s.cfg.RateLimit, c.s.cfg.RateBurst) {
		c.rateLimited(s, f, readAt)
		if ok {
			c.guard.fail(s.gen) // like any retry answer given before a publish
		}
		return c.push(s)
	}
	p.start(c.s.ctx, incoming{f: f, validUTF8: validUTF8, via: "ws", guard: &c.guard, agentSubject: c.agentSubject, tenant: c.tenant, receivedAt: readAt}, s, c.log)
	if s.ready && s.res.Retry && s.res.ID != "" {
		// Refused with retry before any publish (draining, the state
		// unavailable, the sink's connection changed): the events read
		// after it are held until its answer sets the halt.
		c.guard.fail(s.gen)
	}
	return c.push(s)
}

// hello records the client's session and answers with welcome.
func (c *conn) hello(session, client string, readAt time.Time) bool {
	if session != "" && c.session == "" && validID(session) {
		c.session = session
		c.log = c.log.With().Str("session", session).Logger()
	}
	c.log.Debug().Str("client", truncate(client, 64)).Msg("hello")
	body, _ := json.Marshal(welcome{Type: frameWelcome, Session: c.session, MaxMessageBytes: c.s.cfg.MaxMessageBytes, Version: c.s.cfg.Version})
	s := c.s.p.newSlot(c, time.Time{})
	answer(s, Result{})
	s.raw = body
	return c.push(s)
}

// authenticate handles the first frame when tokens are required: it must
// be a hello frame with a valid token, or the connection is closed with
// 1008 and the reason. The subject is never logged (it may be an email).
func (c *conn) authenticate(data []byte) bool {
	var f inFrame
	if err := json.Unmarshal(data, &f); err != nil || f.Type != frameHello {
		return c.refuseToken(tokenMissing, "send a hello frame with a token first")
	}
	id, err := c.s.tokens.VerifyIdentity(f.Token, time.Now())
	if err != nil {
		return c.refuseToken(tokenReason(err), err.Error())
	}
	c.authed, c.agentSubject, c.tenant = true, id.Subject, id.Tenant
	c.extendReadDeadline(time.Now(), true)
	return c.hello(f.Session, f.Client, time.Now())
}

// refuseToken ends the connection with 1008 policy violation.
func (c *conn) refuseToken(reason, text string) bool {
	c.s.m.authFailures.WithLabelValues(reason).Inc()
	c.log.Warn().Str("reason", reason).Msg("websocket refused: token")
	c.end.code, c.end.reason, c.end.why = closePolicy, text, "token_"+reason
	return false
}

// answerNow queues an answer that needs no publish, behind the events in flight.
func (c *conn) answerNow(readAt time.Time, res Result) bool {
	s := c.s.p.newSlot(c, readAt)
	answer(s, res)
	return c.push(s)
}

// waitRoom waits until fewer than the window's events are in flight.
func (c *conn) waitRoom() bool {
	for {
		c.mu.Lock()
		if c.broken {
			c.mu.Unlock()
			return false
		}
		if len(c.q) < c.s.cfg.Window {
			c.mu.Unlock()
			return true
		}
		c.mu.Unlock()
		<-c.space
	}
}

// push queues s and gets it answered when it is complete. false when the
// connection can no longer be written to.
func (c *conn) push(s *slot) bool {
	c.mu.Lock()
	if c.qbuf == nil {
		c.qbuf = make([]*slot, 0, 8)
		c.q = c.qbuf
	}
	c.q = append(c.q, s)
	if cap(c.q) > cap(c.qbuf) && len(c.q) == cap(c.q) {
		c.qbuf = c.q[:0:cap(c.q)] // grown: keep the larger array
	}
	broken := c.broken
	c.mu.Unlock()
	c.kick(c.s.cfg.WriteWait)
	return !broken
}

// notify is called by the sink when a slot of this connection completed.
func (c *conn) notify() { c.kick(c.s.cfg.WriteWait) }

// kick gets the complete slots at the head of the queue finished and
// answered by the acker goroutine, starting it when it is not running.
// (Answering from the sink's own goroutine was measured slower: it
// serialises every connection's writes on that one goroutine.)
func (c *conn) kick(time.Duration) {
	c.mu.Lock()
	start := !c.ackerOn && len(c.q) > 0
	if start {
		c.ackerOn = true
	}
	c.mu.Unlock()
	if start {
		go c.acker()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// ackerLinger is how long the acker waits for more work before it stops:
// a busy connection keeps one acker instead of starting one per event,
// and an idle one has none.
const ackerLinger = 500 * time.Millisecond

// acker finishes slots and writes their answers; it stops once the queue
// has stayed empty for ackerLinger.
func (c *conn) acker() {
	linger := time.NewTimer(ackerLinger)
	defer linger.Stop()
	for {
		if !c.process(c.s.cfg.WriteWait) {
			// Only answers that needed no publish (a welcome, a
			// refusal): no reason to expect more soon.
			c.mu.Lock()
			if len(c.q) == 0 {
				c.ackerOn = false
				c.payload = nil
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
		}
		linger.Reset(ackerLinger)
		select {
		case <-c.wake:
		case <-linger.C:
			c.mu.Lock()
			if len(c.q) == 0 {
				c.ackerOn = false
				c.payload = nil
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
		}
	}
}

// process finishes the complete slots at the head of the queue, in order,
// and writes their answers, together when several are ready. One goroutine
// at a time processes; another that finds it busy leaves: the one at work
// looks at the head again, under the lock, before it stops. It reports
// whether it answered an event that had been published.
func (c *conn) process(wait time.Duration) (published bool) {
	p := c.s.p
	c.mu.Lock()
	if c.processing {
		c.mu.Unlock()
		return false
	}
	c.processing = true
	var outp *[]byte
	var out []byte
	for {
		if len(c.q) == 0 || !c.q[0].complete() {
			if len(out) > 0 {
				c.mu.Unlock()
				c.write(out, wait)
				out = out[:0]
				c.mu.Lock()
				continue
			}
			c.processing = false
			if len(c.q) == 0 && c.idle != nil {
				close(c.idle)
				c.idle = nil
			}
			c.mu.Unlock()
			c.signalRoom()
			if outp != nil {
				*outp = out
				p.bufs.Put(outp)
			}
			return published
		}
		s := c.q[0]
		c.q[0] = nil
		c.q = c.q[1:]
		if len(c.q) == 0 {
			c.q = c.qbuf[:0] // start again at the front of the same array
		}
		held := s.gen <= c.failGen // behind a halt already set
		c.mu.Unlock()
		c.signalRoom()
		published = published || !s.ready

		res := p.finish(s, held, "ws", c.log)
		if !held && !res.Acked() && res.Retry && res.ID != "" {
			// The first answer with retry of this generation: it halts
			// the connection and ends the generation.
			c.mu.Lock()
			c.halted, c.barrier = true, res.ID
			c.failGen = s.gen
			c.gen = s.gen + 1
			c.mu.Unlock()
		}
		if outp == nil {
			outp = p.buf()
			out = (*outp)[:0]
		}
		if s.raw != nil {
			out = appendTextFrame(out, s.raw)
		} else {
			c.payload = res.appendJSON(c.payload[:0])
			out = appendTextFrame(out, c.payload)
		}
		if !s.readAt.IsZero() {
			p.m.ackWS.Observe(time.Since(s.readAt).Seconds())
		}
		p.freeSlot(s)
		c.mu.Lock()
	}
}

func (c *conn) signalRoom() {
	select {
	case c.space <- struct{}{}:
	default:
	}
}

// waitAnswered waits, up to limit, until every queued event is answered.
func (c *conn) waitAnswered(limit time.Duration) {
	c.mu.Lock()
	if len(c.q) == 0 && !c.processing {
		c.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	c.idle = idle
	c.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
		c.log.Warn().Msg("events still in flight when the connection closed")
	}
}

// write sends frames, bounded by wait; a failure closes the socket, which
// ends the reader too.
func (c *conn) write(b []byte, wait time.Duration) {
	c.mu.Lock()
	broken := c.broken
	c.mu.Unlock()
	if broken {
		return
	}
	c.wmu.Lock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(wait))
	_, err := c.nc.Write(b)
	c.wmu.Unlock()
	if err != nil {
		c.log.Debug().Err(err).Msg("write failed")
		c.mu.Lock()
		c.broken = true
		c.mu.Unlock()
		c.signalRoom()
		_ = c.nc.Close()
	}
}

// writeControl writes one control frame (ping, pong).
func (c *conn) writeControl(op byte, data []byte) {
	if len(data) > 125 {
		data = data[:125]
	}
	frame := make([]byte, 0, 2+len(data))
	frame = append(frame, 0x80|op, byte(len(data)))
	c.write(append(frame, data...), c.s.cfg.WriteWait)
}

// writeClose writes the close frame with code and reason.
func (c *conn) writeClose(code int, reason string) {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	payload := make([]byte, 0, 2+len(reason))
	payload = append(payload, byte(code>>8), byte(code))
	payload = append(payload, reason...)
	c.writeControl(websocket.CloseMessage, payload)
}

// sendPing pings the client and schedules the next ping.
func (c *conn) sendPing() {
	c.writeControl(websocket.PingMessage, nil)
	c.mu.Lock()
	broken := c.broken
	c.mu.Unlock()
	if !broken {
		c.ping.Reset(c.s.cfg.PingInterval)
	}
}

// appendTextFrame appends an unmasked, final text frame (RFC 6455 5.2).
func appendTextFrame(b, payload []byte) []byte {
	n := len(payload)
	b = append(b, 0x81)
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, payload...)
}

// resumeFrame tells the client the sink is back (docs/protocol.md).
var resumeFrame = appendTextFrame(nil, []byte(`{"type":"resume"}`))

// sendResume writes the resume frame, unless the connection is draining.
func (c *conn) sendResume() {
	if c.draining.Load() {
		return
	}
	c.write(resumeFrame, c.s.cfg.WriteWait)
}

// drainQuiet is how long a draining connection waits for the next frame
// before it closes: frames the client wrote before it read the draining
// notice arrive within about one round trip.
const drainQuiet = 500 * time.Millisecond

// drainingFrame tells the client the relay is shutting down (docs/protocol.md).
var drainingFrame = appendTextFrame(nil, []byte(`{"type":"draining"}`))

// drain starts the connection's shutdown: it tells the client (a draining
// frame) and keeps reading, so that every frame the client wrote before it
// heard is read and answered (with a retryable draining nack: the pipeline
// is draining too). Reading stops once the client has been quiet for
// drainQuiet, or cfg.DrainGrace after the drain began, whichever is first;
// then the events in hand are answered and the connection is closed with
// 1001 going away. It may be called from any goroutine, and may block up
// to cfg.WriteWait on a slow client.
func (c *conn) drain() {
	now := time.Now()
	c.drainEnd.Store(now.Add(c.s.cfg.DrainGrace).UnixNano())
	c.draining.Store(true)
	_ = c.ws.SetReadDeadline(c.drainDeadline(now))
	c.write(drainingFrame, c.s.cfg.WriteWait)
}

// drainDeadline is the read deadline of a draining connection that read
// something at now.
func (c *conn) drainDeadline(now time.Time) time.Time {
	d := now.Add(drainQuiet)
	if end := time.Unix(0, c.drainEnd.Load()); end.Before(d) {
		d = end
	}
	return d
}

// extendReadDeadline gives the client another keep-alive period; to save
// work, at most once a second unless forced. A draining connection gets
// drainQuiet more instead, within its grace. drain may run between the
// check and the new deadline; the second check then restores the drain's
// deadline, so a drain is never undone (drain stores the flag before it
// sets its deadline).
func (c *conn) extendReadDeadline(now time.Time, force bool) {
	if c.draining.Load() {
		_ = c.ws.SetReadDeadline(c.drainDeadline(now))
		return
	}
	if !c.authed {
		return
	}
	if !force && now.Sub(c.lastExtend) < time.Second {
		return
	}
	c.lastExtend = now
	_ = c.ws.SetReadDeadline(now.Add(c.s.cfg.PongWait))
	if c.draining.Load() {
		_ = c.ws.SetReadDeadline(c.drainDeadline(time.Now()))
	}
}

// readEnd names why reading ended (for the log and the metric) and the close
// frame to send, if any: none when the client closed or the socket broke.
func (c *conn) readEnd(err error) (reason string, closeCode int, closeReason string) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case c.draining.Load():
		return "shutdown", closeGoingAway, "relay shutting down"
	case errors.As(err, &ce):
		return "client_closed", 0, ""
	case errors.As(err, &ne) && ne.Timeout() && !c.authed:
		c.s.m.authFailures.WithLabelValues(tokenTimeout).Inc()
		c.log.Warn().Str("reason", tokenTimeout).Msg("websocket refused: token")
		return "token_" + tokenTimeout, closePolicy, fmt.Sprintf("no hello frame with a token within %s", c.s.cfg.HelloTimeout)
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout", closeGoingAway, "no frames or pongs within the keep-alive time"
	default:
		return "read_error", 0, ""
	}
}
