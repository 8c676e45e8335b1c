package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
)

// conn is one WebSocket client. Its reader (the goroutine of the HTTP
// handler) reads frames and handles events one after another, in order; its
// writer goroutine is the only one that writes to the socket: acks and nacks
// in the order the reader produced them, pings, and the final close frame.
type conn struct {
	s    *Server
	ws   *websocket.Conn
	log  zerolog.Logger
	out  chan outFrame // written only by the reader, closed by it when done
	done chan struct{} // closed when the writer has stopped

	draining atomic.Bool
	session  string

	// Set by the reader only. authed is true once the hello frame's token
	// was accepted (always true when tokens are not required);
	// agentSubject is the token's subject.
	authed       bool
	agentSubject string
	// end, when its code is set by handleFrame, is the close frame to end
	// the connection with and why (for the log and metric).
	end struct {
		code        int
		reason, why string
	}
}

// outFrame is one frame for the writer: a text frame or, when closeCode is
// set, the close frame that ends the connection.
type outFrame struct {
	data      []byte
	readAt    time.Time // when the answered event was read; zero for other frames
	closeCode int
	reason    string
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
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered the request with its Error function.
		s.log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	c := &conn{
		s:    s,
		ws:   ws,
		out:  make(chan outFrame, 64),
		done: make(chan struct{}),
	}
	c.log = s.log.With().Str("conn", newConnID()).Str("remote", remoteHost(r)).Logger()
	if !s.track(c) {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeGoingAway, "relay shutting down"), time.Now().Add(s.cfg.WriteWait))
		_ = ws.Close()
		return
	}
	defer s.untrack(c)
	s.m.connections.Inc()
	defer s.m.connections.Dec()
	c.log.Debug().Msg("websocket connected")
	reason := c.run()
	s.m.connClosed.WithLabelValues(reason).Inc()
	c.log.Debug().Str("reason", reason).Msg("websocket closed")
}

// run reads until the connection ends and returns why it ended.
func (c *conn) run() (reason string) {
	cfg := c.s.cfg
	go c.writer()
	c.ws.SetReadLimit(0) // the frame limit is enforced below, to close with a reason
	c.authed = c.s.tokens == nil
	if c.authed {
		_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	} else {
		_ = c.ws.SetReadDeadline(time.Now().Add(cfg.HelloTimeout))
	}
	c.ws.SetPongHandler(func(string) error {
		c.extendReadDeadline(time.Now())
		return nil
	})

	closeCode, closeReason := 0, ""
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			reason, closeCode, closeReason = c.readEnd(err)
			break
		}
		readAt := time.Now()
		c.extendReadDeadline(readAt)
		if mt != websocket.TextMessage {
			reason, closeCode, closeReason = "binary_frame", closeUnsupported, "binary frames are not supported; send JSON text frames"
			c.s.m.rejected.WithLabelValues(CodeInvalidFrame).Inc()
			c.log.Warn().Msg("binary frame: closing")
			break
		}
		data, err := io.ReadAll(io.LimitReader(r, int64(cfg.MaxMessageBytes)+1))
		if err != nil {
			reason, closeCode, closeReason = c.readEnd(err)
			break
		}
		if len(data) > cfg.MaxMessageBytes {
			reason, closeCode = "too_large", closeTooBig
			closeReason = fmt.Sprintf("frame larger than %d bytes", cfg.MaxMessageBytes)
			c.s.m.rejected.WithLabelValues("too_large").Inc()
			c.log.Warn().Int("limit", cfg.MaxMessageBytes).Msg("frame over the limit: closing")
			break
		}
		if !c.handleFrame(data, readAt) {
			reason = "writer_failed"
			if c.end.code != 0 {
				reason, closeCode, closeReason = c.end.why, c.end.code, c.end.reason
			}
			break
		}
	}
	if closeCode != 0 {
		c.send(outFrame{closeCode: closeCode, reason: closeReason})
	}
	close(c.out)
	select {
	case <-c.done:
	case <-time.After(cfg.WriteWait + time.Second):
	}
	_ = c.ws.Close()
	return reason
}

// handleFrame answers one text frame. It returns false when the writer has
// stopped and the connection must end.
func (c *conn) handleFrame(data []byte, readAt time.Time) bool {
	if !c.authed {
		return c.authenticate(data)
	}
	var f inFrame
	if err := json.Unmarshal(data, &f); err != nil {
		c.s.m.received.WithLabelValues(typeInvalid).Inc()
		c.s.m.rejected.WithLabelValues(CodeInvalidFrame).Inc()
		c.log.Warn().Str("code", CodeInvalidFrame).Msg("frame is not a JSON object")
		return c.answer(nack("", CodeInvalidFrame, "the frame must be a JSON object: "+jsonErrorText(err)), readAt)
	}
	switch f.Type {
	case frameEvent:
		res := c.s.p.handle(c.s.ctx, incoming{
			frame:        f,
			validUTF8:    utf8.Valid(data),
			via:          "ws",
			agentSubject: c.agentSubject,
			receivedAt:   readAt,
		}, c.log)
		return c.answer(res, readAt)
	case frameHello:
		return c.hello(f)
	default:
		_, echo, _ := parseID(f.ID)
		c.s.m.received.WithLabelValues(typeInvalid).Inc()
		c.s.m.rejected.WithLabelValues(CodeInvalidFrame).Inc()
		c.log.Warn().Str("code", CodeInvalidFrame).Msg("unknown frame type")
		return c.answer(nack(echo, CodeInvalidFrame, `the frame type must be "hello" or "event"`), readAt)
	}
}

// hello records the client's session and answers with welcome.
func (c *conn) hello(f inFrame) bool {
	if f.Session != "" && c.session == "" && validID(f.Session) {
		c.session = f.Session
		c.log = c.log.With().Str("session", f.Session).Logger()
	}
	c.log.Debug().Str("client", truncate(f.Client, 64)).Msg("hello")
	body, _ := json.Marshal(welcome{Type: frameWelcome, Session: c.session, MaxMessageBytes: c.s.cfg.MaxMessageBytes, Version: c.s.cfg.Version})
	return c.send(outFrame{data: body})
}

// authenticate handles the first frame when tokens are required: it must
// be a hello frame with a valid token, or the connection is closed with
// 1008 and the reason. The subject is never logged (it may be an email).
func (c *conn) authenticate(data []byte) bool {
	var f inFrame
	if err := json.Unmarshal(data, &f); err != nil || f.Type != frameHello {
		return c.refuseToken(tokenMissing, "send a hello frame with a token first")
	}
	sub, err := c.s.tokens.Verify(f.Token, time.Now())
	if err != nil {
		return c.refuseToken(tokenReason(err), err.Error())
	}
	c.authed, c.agentSubject = true, sub
	c.extendReadDeadline(time.Now())
	return c.hello(f)
}

// refuseToken ends the connection with 1008 policy violation.
func (c *conn) refuseToken(reason, text string) bool {
	c.s.m.authFailures.WithLabelValues(reason).Inc()
	c.log.Warn().Str("reason", reason).Msg("websocket refused: token")
	c.end.code, c.end.reason, c.end.why = closePolicy, text, "token_"+reason
	return false
}

// answer queues the ack or nack of an event.
func (c *conn) answer(res Result, readAt time.Time) bool {
	body, err := json.Marshal(res)
	if err != nil {
		c.log.Error().Err(err).Msg("encode answer")
		return false
	}
	return c.send(outFrame{data: body, readAt: readAt})
}

// send hands f to the writer; false when the writer has stopped.
func (c *conn) send(f outFrame) bool {
	select {
	case c.out <- f:
		return true
	case <-c.done:
		return false
	}
}

// writer writes every queued frame and the pings. When a write fails it
// closes the socket, which ends the reader too.
func (c *conn) writer() {
	defer close(c.done)
	cfg := c.s.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case f, ok := <-c.out:
			if !ok {
				return
			}
			deadline := time.Now().Add(cfg.WriteWait)
			if f.closeCode != 0 {
				_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(f.closeCode, f.reason), deadline)
				return
			}
			_ = c.ws.SetWriteDeadline(deadline)
			if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
				c.log.Debug().Err(err).Msg("write failed")
				_ = c.ws.Close()
				return
			}
			if !f.readAt.IsZero() {
				c.s.m.ackLatency.WithLabelValues("ws").Observe(time.Since(f.readAt).Seconds())
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteWait)); err != nil {
				c.log.Debug().Err(err).Msg("ping failed")
				_ = c.ws.Close()
				return
			}
		}
	}
}

// drain asks the connection to finish the event in hand, stop reading and
// close with 1001 going away. It may be called from any goroutine.
func (c *conn) drain() {
	c.draining.Store(true)
	_ = c.ws.SetReadDeadline(time.Now())
}

// extendReadDeadline gives the client another keep-alive period, unless the
// connection is draining. drain may run between the check and the new
// deadline; the second check then restores the immediate deadline, so a
// drain is never undone (drain stores the flag before it sets its deadline).
func (c *conn) extendReadDeadline(now time.Time) {
	if c.draining.Load() || !c.authed {
		return
	}
	_ = c.ws.SetReadDeadline(now.Add(c.s.cfg.PongWait))
	if c.draining.Load() {
		_ = c.ws.SetReadDeadline(time.Now())
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
