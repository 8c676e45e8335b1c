package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/callrelay/callrelay/relay"
)

// defaultDuplicates is the de-duplication window used when
// StreamConfig.Duplicates is zero; it matches the server's own default.
const defaultDuplicates = 2 * time.Minute

// StreamConfig describes the stream a JetStream sink publishes into. It is
// used to create the stream when it does not exist yet; an existing stream is
// only checked, never changed.
type StreamConfig struct {
	// Name is the stream name, e.g. "AGENTCALL".
	Name string
	// Subjects are the subjects the stream must capture, e.g. "agentcall.>".
	Subjects []string
	// MaxAge is how long messages are kept; zero keeps them forever.
	MaxAge time.Duration
	// MaxBytes caps the stream's size; the oldest messages are dropped
	// beyond it. Zero (or less) means no cap.
	MaxBytes int64
	// Replicas is the number of copies in a cluster; zero means 1.
	Replicas int
	// Duplicates is the window in which a second message with the same
	// Nats-Msg-Id is dropped; zero means 2m.
	Duplicates time.Duration
	// Memory selects memory storage instead of file storage (tests).
	Memory bool
}

// validate checks cfg and fills in its defaults.
func (c *StreamConfig) validate() error {
	if c.Name == "" {
		return errors.New("stream name is empty")
	}
	if strings.ContainsAny(c.Name, " \t\r\n.*>") {
		return fmt.Errorf("stream name %q must not contain whitespace, '.', '*' or '>'", c.Name)
	}
	if len(c.Subjects) == 0 {
		return fmt.Errorf("stream %s has no subjects", c.Name)
	}
	for _, s := range c.Subjects {
		if !validSubject(s) {
			return fmt.Errorf("stream %s: invalid subject %q", c.Name, s)
		}
	}
	if c.MaxAge < 0 || c.Duplicates < 0 || c.Replicas < 0 {
		return fmt.Errorf("stream %s: max age, duplicates window and replicas must not be negative", c.Name)
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Duplicates == 0 {
		c.Duplicates = defaultDuplicates
	}
	return nil
}

// jetStreamConfig is the server-side configuration for a new stream.
func (c StreamConfig) jetStreamConfig() jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if c.Memory {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name:       c.Name,
		Subjects:   c.Subjects,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		MaxAge:     c.MaxAge,
		MaxBytes:   maxBytes(c.MaxBytes),
		Storage:    storage,
		Replicas:   c.Replicas,
		Duplicates: c.Duplicates,
	}
}

// ErrStreamMismatch is wrapped by the error of NewJetStream when the stream
// exists but does not capture the subjects the sink publishes on.
var ErrStreamMismatch = errors.New("stream does not cover the subjects")

// JetStream is a Sink that publishes into a JetStream stream, without
// waiting: every message goes out at once with a reply subject of its own
// under one inbox subscription, and the stream's PubAck, read by that
// subscription's goroutine, completes it. Messages without an answer within
// the publish timeout fail, and so does everything in flight when the
// connection drops (one status watcher for the sink). A message whose
// Nats-Msg-Id the stream has already seen within its duplicates window is
// reported as a duplicate. JetStream is safe for concurrent use; Close stops
// it.
type JetStream struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  string
	timeout time.Duration
	inbox   string // "<inbox>." : reply subjects are inbox + sequence
	sub     *nats.Subscription
	watch   *watcher
	msgs    msgPool
	done    chan struct{}
	closer  sync.Once

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]pendingPub
}

// pendingPub is a message waiting for its PubAck.
type pendingPub struct {
	c        relay.Completion
	tag      int
	deadline int64 // unix ns
}

var (
	_ relay.Sink        = (*JetStream)(nil)
	_ relay.Generations = (*JetStream)(nil)
)

// Generation counts the connection's reconnects (relay.Generations).
func (s *JetStream) Generation() uint64 { return generation(s.nc) }

// NewJetStream returns a sink that publishes into the stream cfg describes.
// If the stream does not exist, it is created from cfg. If it exists, its
// subjects must cover every subject in cfg.Subjects (the same subject or a
// wider wildcard), or NewJetStream fails; an existing stream is never
// modified, because its operators own it. timeout bounds the wait for each
// PubAck (0: 5s). The caller owns nc, and closes the sink before it.
func NewJetStream(ctx context.Context, nc *nats.Conn, cfg StreamConfig, timeout time.Duration) (*JetStream, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("configure jetstream sink: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	if err := ensureStream(ctx, js, cfg); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = defaultPublishTimeout
	}
	s := &JetStream{
		nc: nc, js: js, stream: cfg.Name, timeout: timeout,
		inbox:   nats.NewInbox() + ".",
		pending: map[uint64]pendingPub{},
		done:    make(chan struct{}),
	}
	s.sub, err = nc.Subscribe(s.inbox+"*", s.onAck)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the publish acknowledgements: %w", err)
	}
	// Acks must never be dropped for being slow: a dropped ack is a
	// message reported failed although stored (harmless, but noisy).
	_ = s.sub.SetPendingLimits(-1, -1)
	s.watch = newWatcher(nc)
	s.watch.onLostForever(s.failAll)
	go s.expire()
	return s, nil
}

// ensureStream creates the stream cfg describes, or checks the existing one.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) error {
	stream, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, cfg.jetStreamConfig())
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("create stream %s: %w", cfg.Name, err)
		}
		// Another relay created it in the meantime, with a different
		// configuration: check that one instead.
		stream, err = js.Stream(ctx, cfg.Name)
	}
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", cfg.Name, err)
	}
	have := stream.CachedInfo().Config.Subjects
	for _, want := range cfg.Subjects {
		if !coveredBy(want, have) {
			return fmt.Errorf("%w: stream %s exists with subjects %q, which do not cover %q; "+
				"widen the stream's subjects or choose another stream name", ErrStreamMismatch, cfg.Name, have, want)
		}
	}
	return nil
}

// Publish sends env to the stream, with env.ID as Nats-Msg-Id and the
// CloudEvents headers, and completes it when the stream's PubAck arrives;
// see relay.Sink.
func (s *JetStream) Publish(env relay.Envelope, c relay.Completion, tag int) {
	if err := checkConnected(s.nc); err != nil {
		c.Published(tag, false, fmt.Errorf("publish to %s in stream %s: %w", env.Subject, s.stream, err))
		return
	}
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.pending[seq] = pendingPub{c: c, tag: tag, deadline: time.Now().Add(s.timeout).UnixNano()}
	s.mu.Unlock()

	msg := s.msgs.get(env)
	var reply [96]byte // one allocation, the reply subject, not two
	msg.Reply = string(strconv.AppendUint(append(reply[:0], s.inbox...), seq, 10))
	// PublishMsg copies the message into the client's buffer: the Msg and
	// env.Data are free again when it returns.
	err := s.nc.PublishMsg(&msg.Msg)
	s.msgs.put(msg)
	if err != nil {
		if p, ok := s.take(seq); ok {
			p.c.Published(p.tag, false, fmt.Errorf("publish to %s in stream %s: %w", env.Subject, s.stream, classify(s.nc, err)))
		}
	}
}

// take removes and returns the pending message seq, if it is still pending.
func (s *JetStream) take(seq uint64) (pendingPub, bool) {
	s.mu.Lock()
	p, ok := s.pending[seq]
	if ok {
		delete(s.pending, seq)
	}
	s.mu.Unlock()
	return p, ok
}

// onAck completes the message a PubAck (or an error reply) answers.
func (s *JetStream) onAck(m *nats.Msg) {
	seq, err := strconv.ParseUint(m.Subject[len(s.inbox):], 10, 64)
	if err != nil {
		return
	}
	p, ok := s.take(seq)
	if !ok {
		return // timed out or failed already
	}
	dup, err := parsePubAck(m)
	if err != nil {
		err = fmt.Errorf("publish in stream %s: %w", s.stream, err)
	}
	p.c.Published(p.tag, dup, err)
}

// parsePubAck reads a JetStream publish reply: {"stream":..,"seq":..,
// "duplicate":true} or {"error":{..}}, or a 503 status when no stream
// listens on the subject.
func parsePubAck(m *nats.Msg) (duplicate bool, err error) {
	if len(m.Data) == 0 {
		// The client puts a reply's status line in the Status header.
		if m.Header.Get("Status") == "503" {
			return false, fmt.Errorf("no responders on the subject: %w", jetstream.ErrNoStreamResponse)
		}
		return false, errors.New("empty publish acknowledgement")
	}
	if !bytes.Contains(m.Data, []byte(`"error"`)) {
		return ackIsDuplicate(m.Data), nil
	}
	var ack struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Duplicate bool `json:"duplicate"`
	}
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		return false, fmt.Errorf("unreadable publish acknowledgement: %w", err)
	}
	if ack.Error != nil {
		return false, fmt.Errorf("stream refused the message: %s (code %d, err_code %d)", ack.Error.Description, ack.Error.Code, ack.Error.ErrCode)
	}
	return ack.Duplicate, nil
}

// ackIsDuplicate reports whether a PubAck says "duplicate": true (the
// server writes it with a space; any white space is accepted).
func ackIsDuplicate(data []byte) bool {
	i := bytes.Index(data, []byte(`"duplicate"`))
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(data[i+len(`"duplicate"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(rest[1:], " \t\r\n"), []byte("true"))
}

// failAll fails every message in flight (the connection was lost).
func (s *JetStream) failAll(cause error) {
	s.mu.Lock()
	failed := s.pending
	s.pending = make(map[uint64]pendingPub, len(failed))
	s.mu.Unlock()
	for _, p := range failed {
		p.c.Published(p.tag, false, fmt.Errorf("publish in stream %s: %w", s.stream, cause))
	}
}

// expireTick is how often messages past their timeout are failed.
const expireTick = 50 * time.Millisecond

// expire fails the messages whose PubAck is overdue.
func (s *JetStream) expire() {
	t := time.NewTicker(expireTick)
	defer t.Stop()
	var overdue []pendingPub
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			ns := now.UnixNano()
			overdue = overdue[:0]
			s.mu.Lock()
			for seq, p := range s.pending {
				if p.deadline <= ns {
					overdue = append(overdue, p)
					delete(s.pending, seq)
				}
			}
			s.mu.Unlock()
			for _, p := range overdue {
				p.c.Published(p.tag, false, fmt.Errorf("publish in stream %s: %w", s.stream, context.DeadlineExceeded))
			}
		}
	}
}

// Close stops the sink: messages still in flight fail. Safe twice.
func (s *JetStream) Close() {
	s.closer.Do(func() {
		close(s.done)
		s.watch.Close()
		_ = s.sub.Unsubscribe()
		s.failAll(fmt.Errorf("%w: the sink is closed", ErrNotConnected))
	})
}

// Ready returns nil while the connection is up, and an error naming the
// connection's status otherwise. It does not contact the server, so it is
// cheap enough for every readiness probe and metrics scrape.
func (s *JetStream) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return checkConnected(s.nc)
}

// OnResume registers fn to be called every time the sink's connection is
// back after it was lost (relay.Resumer), from a goroutine of the sink.
func (s *JetStream) OnResume(fn func()) { s.watch.onUp(fn) }

// Stream returns the name of the stream the sink publishes into.
func (s *JetStream) Stream() string {
	return s.stream
}

// maxBytes is a StreamConfig.MaxBytes as JetStream spells "no cap" (-1).
func maxBytes(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}
