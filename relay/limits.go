package relay

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/callrelay/callrelay/events"
)

// Bounds on what a client controls (DESIGN §4), beyond the frame and batch
// sizes: the size of talk details, the clock skew of creationTime, the
// event rate of a WebSocket connection and the number of connections.

// admit applies the per-event bounds to a decoded message, as received
// (before any redaction), and checks its Sobot sign. It returns the
// Event.Signature to publish, or false when the event was refused: it is
// then recorded on the rejected subject and answered retry:false.
func (p *pipeline) admit(in incoming, s *slot, seenAt *time.Time, msg *events.Message) (string, bool) {
	if msg.Type == events.TypeIframeParams && len(msg.Params) > p.maxTalk {
		p.refuse(in, s, seenAt, events.Errorf(CodeTalkTooLarge, "the talk details' params are %d bytes, more than the limit of %d", len(msg.Params), p.maxTalk))
		return "", false
	}
	if msg.CreationTime != 0 {
		d := in.receivedAt.Sub(time.UnixMilli(msg.CreationTime))
		if d > p.maxSkew || d < -p.maxSkew {
			p.refuse(in, s, seenAt, events.Errorf(CodeInvalidCreationTime, "params.creationTime is more than %s from the relay's clock", p.maxSkew))
			return "", false
		}
	}
	return p.checkSign(in, s, seenAt, msg)
}

// bucket is a token bucket: up to burst events at once, refilled at rate
// per second. It is a connection's own (used by its reader only), so it
// needs no lock; take is a few arithmetic operations.
type bucket struct {
	tokens float64
	last   time.Time
}

// take spends one token at now, reporting false when there is none.
func (b *bucket) take(now time.Time, rate float64, burst int) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens += d.Seconds() * rate
		if b.tokens > float64(burst) {
			b.tokens = float64(burst)
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// rateLimitLogEvery is how often a connection over its rate is logged.
const rateLimitLogEvery = 10 * time.Second

// rateLimited answers s, an event over the connection's rate, with a
// retryable nack (the order rule then holds the later ones until the client sends it
// again). It logs at most every rateLimitLogEvery, so that a flood does not
// flood the log too; the metric counts every one.
func (c *conn) rateLimited(s *slot, f *frame, readAt time.Time) {
	_, echo, _ := parseID(f.id)
	c.s.p.m.retryableCode(CodeRateLimited).Inc()
	if readAt.Sub(c.limitLogged) >= rateLimitLogEvery {
		c.limitLogged = readAt
		c.log.Warn().Str("code", CodeRateLimited).Float64("rate", c.s.cfg.RateLimit).Int("burst", c.s.cfg.RateBurst).Msg("events over the connection's rate limit: answering rate_limited")
	}
	answer(s, nack(echo, CodeRateLimited, "too many events on this connection; send it again a little later"))
}

// admitConn counts a new WebSocket against the connection cap; false
// (nothing counted) when the relay holds MaxConnections already.
func (s *Server) admitConn() bool {
	if s.open.Add(1) > int64(s.cfg.MaxConnections) {
		s.open.Add(-1)
		return false
	}
	return true
}

// refuseConn answers an upgrade beyond the connection cap.
func (s *Server) refuseConn(w http.ResponseWriter) {
	s.m.connClosed.WithLabelValues(CodeTooManyConns).Inc()
	s.log.Warn().Int("limit", s.cfg.MaxConnections).Msg("websocket refused: connection cap reached")
	w.Header().Set("Retry-After", "5")
	writeError(w, CodeTooManyConns, fmt.Sprintf("the relay holds its maximum of %d connections; connect again later", s.cfg.MaxConnections))
}

// gorillaConn is the socket as gorilla sees it. gorilla writes on its own
// only the handshake's answer and a close frame when reading fails (a
// protocol error, or a frame header declaring more than the read limit);
// through gorillaConn those close frames go through the connection's write
// lock like every other frame, and the bare 1009 of the read limit is
// replaced by one that names the limit. The relay's own writes use the
// socket underneath.
type gorillaConn struct {
	net.Conn
	c *conn // set before the connection starts reading; nil during the handshake
}

// closeTooBigBare is gorilla's close frame for a frame over the read limit.
var closeTooBigBare = []byte{0x88, 2, closeTooBig >> 8, closeTooBig & 0xff}

func (g *gorillaConn) Write(p []byte) (int, error) {
	if g.c == nil {
		return g.Conn.Write(p)
	}
	if bytes.Equal(p, closeTooBigBare) {
		g.c.writeClose(closeTooBig, tooLargeReason(g.c.s.cfg.MaxMessageBytes))
	} else {
		g.c.write(p, g.c.s.cfg.WriteWait)
	}
	return len(p), nil
}

// hijacker hands gorilla a gorillaConn instead of the raw socket.
type hijacker struct {
	http.ResponseWriter
	gc *gorillaConn
}

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.gc.Conn = nc
	return h.gc, brw, nil
}

// tooLargeReason is the close reason of a frame over limit bytes.
func tooLargeReason(limit int) string { return fmt.Sprintf("frame larger than %d bytes", limit) }
