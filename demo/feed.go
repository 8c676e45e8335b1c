package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Feed timings and bounds.
const (
	defaultBacklog    = 100
	defaultMaxClients = 16
	clientBuffer      = 64
	heartbeat         = 15 * time.Second
	writeWait         = 10 * time.Second
	pendingMsgs       = 4096
	pendingBytes      = 16 << 20
)

// Feed relays the messages of a NATS subscription to server-sent-event
// streams. It never blocks the NATS client: the subscription handler only
// appends to a bounded ring and hands each message to every stream without
// waiting; a stream that falls behind by more than its buffer is ended, and
// the browser's EventSource reconnects and resumes from the ring with
// Last-Event-ID.
type Feed struct {
	sub        *nats.Subscription
	log        zerolog.Logger
	backlog    int
	maxClients int

	mu      sync.Mutex
	seq     uint64
	ring    []entry
	clients map[chan entry]struct{}
	closed  bool
	done    chan struct{}

	lagged atomic.Uint64 // streams ended for falling behind
}

// entry is one message, rendered as an SSE event.
type entry struct {
	seq  uint64
	text []byte
}

// NewFeed subscribes to subject on nc.
func NewFeed(nc *nats.Conn, subject string, backlog, maxClients int, log zerolog.Logger) (*Feed, error) {
	if backlog <= 0 {
		backlog = defaultBacklog
	}
	if maxClients <= 0 {
		maxClients = defaultMaxClients
	}
	f := &Feed{log: log, backlog: backlog, maxClients: maxClients, clients: map[chan entry]struct{}{}, done: make(chan struct{})}
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) { f.add(m.Subject, m.Data) })
	if err != nil {
		return nil, fmt.Errorf("demo: subscribe to %s: %w", subject, err)
	}
	_ = sub.SetPendingLimits(pendingMsgs, pendingBytes)
	f.sub = sub
	return f, nil
}

// add renders one message and hands it to the ring and every stream.
func (f *Feed) add(subject string, data []byte) {
	var body bytes.Buffer
	if json.Compact(&body, data) != nil {
		body.Reset()
		q, _ := json.Marshal(string(data))
		body.Write(q)
	}
	subj, _ := json.Marshal(subject)

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.seq++
	var text bytes.Buffer
	fmt.Fprintf(&text, "id: %d\nevent: nats\ndata: {\"subject\":%s,\"data\":%s}\n\n", f.seq, subj, body.Bytes())
	e := entry{seq: f.seq, text: text.Bytes()}
	f.ring = append(f.ring, e)
	if len(f.ring) > f.backlog {
		f.ring = append(f.ring[:0:0], f.ring[len(f.ring)-f.backlog:]...)
	}
	for ch := range f.clients {
		select {
		case ch <- e:
		default:
			delete(f.clients, ch)
			close(ch)
			f.lagged.Add(1)
		}
	}
}

// subscribe registers a stream and returns its channel and the ring's
// entries after lastID; ok is false when the feed is full or closed.
func (f *Feed) subscribe(lastID uint64) (ch chan entry, backlog []entry, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || len(f.clients) >= f.maxClients {
		return nil, nil, false
	}
	ch = make(chan entry, clientBuffer)
	f.clients[ch] = struct{}{}
	for _, e := range f.ring {
		if e.seq > lastID {
			backlog = append(backlog, e)
		}
	}
	return ch, backlog, true
}

func (f *Feed) unsubscribe(ch chan entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[ch]; ok {
		delete(f.clients, ch)
		close(ch)
	}
}

// ServeHTTP streams the feed as text/event-stream until the client leaves,
// falls behind, or the feed closes.
func (f *Feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	lastID, _ := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64)
	ch, backlog, ok := f.subscribe(lastID)
	if !ok {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many open demo panels", http.StatusServiceUnavailable)
		return
	}
	defer f.unsubscribe(ch)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		// The relay's server has a write timeout; each write gets its own.
		_ = rc.SetWriteDeadline(time.Now().Add(writeWait))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte("retry: 2000\n\n")) {
		return
	}
	for _, e := range backlog {
		if !write(e.text) {
			return
		}
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			if !write(e.text) {
				return
			}
		case <-tick.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
		case <-r.Context().Done():
			return
		case <-f.done:
			return
		}
	}
}

// Lagged reports how many streams were ended for falling behind.
func (f *Feed) Lagged() uint64 { return f.lagged.Load() }

// Close unsubscribes and ends every stream. It is safe to call twice.
func (f *Feed) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.done)
	f.mu.Unlock()
	if err := f.sub.Unsubscribe(); err != nil && err != nats.ErrConnectionClosed && err != nats.ErrBadSubscription {
		return fmt.Errorf("demo: unsubscribe: %w", err)
	}
	return nil
}
