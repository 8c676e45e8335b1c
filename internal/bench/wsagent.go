package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// wsAgent is one WebSocket client of the relay, like the browser hook: it
// says hello, then sends event frames and reads their answers. Closed loop
// (interval 0), it keeps up to window events in flight and sends the next
// as soon as a slot frees; open loop, it sends on its own schedule, one
// event every interval from phase on, whatever the answers, and only waits
// when window (the outstanding cap) is full.
type wsAgent struct {
	conn     *websocket.Conn
	gen      *generator
	window   int
	interval time.Duration
	phase    time.Duration
	data     []byte
	frame    []byte
}

// inflight is an event waiting for its answer: its id and the time its
// latency counts from (sent, or scheduled in the open loop).
type inflight struct {
	id string
	at time.Time
}

// answer is an ack or nack frame, or one result of a POST.
type answer struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Status  string `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// check records what a is: the answer "published" to e, or an error.
func (a *answer) check(st *stats, sp *span, e inflight, now time.Time) {
	switch {
	case a.ID != e.id:
		st.fail(1, "answer %s %s for id %q while %q was expected", a.Type, a.Status+a.Code, a.ID, e.id)
	case a.Type == "ack" && a.Status == "published":
		st.ack(sp, e.at, now)
	case a.Type == "nack":
		st.fail(1, "nack %s: %s", a.Code, a.Message)
	default:
		st.fail(1, "answer %s %s, want ack published", a.Type, a.Status)
	}
}

// dialRelay opens a WebSocket to the relay, says hello and reads the
// welcome. bufSize sizes the client's buffers.
func dialRelay(ctx context.Context, url, session string, bufSize int) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: answerTimeout, ReadBufferSize: bufSize, WriteBufferSize: bufSize}
	conn, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	hello := `{"type":"hello","session":"` + session + `","client":"callrelay-bench/1"}`
	_ = conn.SetWriteDeadline(time.Now().Add(answerTimeout))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(hello)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send hello: %w", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(answerTimeout))
	_, msg, err := conn.ReadMessage()
	var w answer
	if err == nil {
		err = json.Unmarshal(msg, &w)
	}
	if err != nil || w.Type != "welcome" {
		conn.Close()
		return nil, fmt.Errorf("read the welcome: got %.200q, %v", msg, err)
	}
	return conn, nil
}

// run sends and reads as the agent's mode says; see wsAgent.
func (a *wsAgent) run(ctx context.Context, sp *span, st *stats) {
	slots := make(chan struct{}, a.window)
	pending := make(chan inflight, a.window+1)
	dead := make(chan struct{})
	var answers stats
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		a.readAnswers(sp, pending, slots, dead, &answers)
	}()
	unhook := context.AfterFunc(ctx, func() { a.conn.Close() })
	defer unhook()
	a.send(ctx, sp, pending, slots, dead, st)
	close(pending)
	<-readerDone
	st.merge(&answers)
}

// send writes event frames until the span's end; see wsAgent.
func (a *wsAgent) send(ctx context.Context, sp *span, pending chan<- inflight, slots chan struct{}, dead <-chan struct{}, st *stats) {
	s := schedule{sp: sp, interval: a.interval, phase: a.phase}
	for k := 0; ; k++ {
		at, ok := s.wait(ctx, k)
		if !ok {
			if n := s.leftOver(k); n > 0 {
				st.sent += n
				st.note("%d events not sent: the agent fell behind its schedule", n)
			}
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			if s.open() && sp.measured(at) {
				st.capHits++
			}
			select {
			case slots <- struct{}{}:
			case <-dead:
				return
			case <-ctx.Done():
				return
			}
		}
		if !s.open() {
			at = time.Now()
		}
		var id string
		id, a.data = a.gen.next(a.data[:0])
		a.frame = appendFrame(a.frame[:0], id, a.data)
		pending <- inflight{id: id, at: at}
		if sp.measured(at) {
			st.sent++
		}
		deadline := time.Now().Add(answerTimeout)
		if s.open() {
			deadline = sp.end.Add(sp.grace)
		}
		_ = a.conn.SetWriteDeadline(deadline)
		if err := a.conn.WriteMessage(websocket.TextMessage, a.frame); err != nil {
			st.note("send %s: %v", id, err)
			a.conn.Close() // the reader counts what is pending as missing
			return
		}
	}
}

// readAnswers reads one answer per pending event, in order, until pending
// is closed. After a read fails, the rest is counted as missing: as errors,
// except in the open loop once its grace has passed.
func (a *wsAgent) readAnswers(sp *span, pending <-chan inflight, slots <-chan struct{}, dead chan<- struct{}, st *stats) {
	broken, late := false, false
	for e := range pending {
		if broken {
			st.missing(1, late, "no answer")
			continue
		}
		deadline := time.Now().Add(answerTimeout)
		if a.interval > 0 {
			deadline = sp.end.Add(sp.grace)
		}
		_ = a.conn.SetReadDeadline(deadline)
		msg, err := readAnswer(a.conn)
		now := time.Now()
		if err != nil {
			broken = true
			late = a.interval > 0 && !now.Before(sp.end.Add(sp.grace))
			close(dead)
			st.missing(1, late, "no answer to %s: %v", e.id, err)
			continue
		}
		<-slots
		var ans answer
		if err := json.Unmarshal(msg, &ans); err != nil {
			st.fail(1, "answer to %s is not JSON: %v", e.id, err)
			continue
		}
		ans.check(st, sp, e, now)
	}
}

// close closes the connection without a closing handshake.
func (a *wsAgent) close() { a.conn.Close() }

// readAnswer reads the next frame that answers an event, skipping the
// relay's notices (resume, draining: docs/protocol.md), which answer none.
func readAnswer(conn *websocket.Conn) ([]byte, error) {
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil || !bytes.HasPrefix(msg, []byte(`{"type":"resume"`)) && !bytes.HasPrefix(msg, []byte(`{"type":"draining"`)) {
			return msg, err
		}
	}
}
