package sinks

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
		Storage:    storage,
		Replicas:   c.Replicas,
		Duplicates: c.Duplicates,
	}
}

// JetStream is a Sink that publishes into a JetStream stream. Publish returns
// once the stream has acknowledged the message, and reports a message whose
// Nats-Msg-Id the stream has already seen within its duplicates window as a
// duplicate. JetStream is safe for concurrent use.
type JetStream struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
}

// NewJetStream returns a sink that publishes into the stream cfg describes.
// If the stream does not exist, it is created from cfg. If it exists, its
// subjects must cover every subject in cfg.Subjects (the same subject or a
// wider wildcard), or NewJetStream fails; an existing stream is never
// modified, because its operators own it. The caller owns nc.
func NewJetStream(ctx context.Context, nc *nats.Conn, cfg StreamConfig) (*JetStream, error) {
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
	return &JetStream{nc: nc, js: js, stream: cfg.Name}, nil
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
			return fmt.Errorf("stream %s exists with subjects %q, which do not cover %q; "+
				"widen the stream's subjects or choose another stream name", cfg.Name, have, want)
		}
	}
	return nil
}

// Publish stores env in the stream, with env.ID as Nats-Msg-Id, and waits for
// the stream's acknowledgement. It returns duplicate true, and no error, when
// the stream already held a message with that id. It fails at once while the
// connection is down. Without a deadline on ctx, it waits at most 5s.
func (s *JetStream) Publish(ctx context.Context, env relay.Envelope) (bool, error) {
	msg := nats.NewMsg(env.Subject)
	msg.Data = env.Data
	var opts []jetstream.PublishOpt
	if env.ID != "" {
		opts = append(opts, jetstream.WithMsgID(env.ID))
	}
	var duplicate bool
	err := whileConnected(ctx, s.nc, func(ctx context.Context) error {
		ack, err := s.js.PublishMsg(ctx, msg, opts...)
		if err != nil {
			return err
		}
		duplicate = ack.Duplicate
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("publish to %s in stream %s: %w", env.Subject, s.stream, err)
	}
	return duplicate, nil
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

// Stream returns the name of the stream the sink publishes into.
func (s *JetStream) Stream() string {
	return s.stream
}
