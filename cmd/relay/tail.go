package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/sinks"
)

// defaultTailURL is where tail looks for NATS without --nats-url: the
// embedded server's default address.
const defaultTailURL = "nats://127.0.0.1:4222"

type tailCmd struct {
	Subject       string `arg:"" optional:"" help:"Subject to follow; NATS wildcards allowed (default: <prefix>.<tenant>.>)."`
	NatsURL       string `name:"nats-url" default:"${tail_nats_url}" env:"RELAY_NATS_URL" help:"NATS server to subscribe to."`
	SubjectPrefix string `default:"agentcall" env:"RELAY_SUBJECT_PREFIX" help:"Subject prefix, for the default subject."`
	Tenant        string `default:"default" env:"RELAY_TENANT" help:"Tenant, for the default subject."`
	Count         int    `short:"n" help:"Exit after this many messages (0: run until interrupted)."`
	Format        string `default:"json" enum:"json,text" env:"RELAY_TAIL_FORMAT" help:"json: one JSON object per message, the message with its subject added first ({\"subject\":...,\"id\":...}); text: one readable line per message."`
	Since         string `env:"RELAY_TAIL_SINCE" help:"First replay the stream's messages from this long ago (10m, 2h) or this RFC 3339 time, then follow."`
	All           bool   `env:"RELAY_TAIL_ALL" help:"First replay every message the stream holds, then follow."`

	// NATS credentials come from the environment only (natsauth.go).
	natsAuth natsCredentials `kong:"-"`
}

// tailMsg is one message to print.
type tailMsg struct {
	subject string
	header  nats.Header
	data    []byte
}

// Run follows the subject and prints each message on one line of stdout;
// with --since or --all it reads the relay's JetStream stream from there
// first. Connection changes go to stderr.
func (t tailCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t.natsAuth = natsCredentialsFromEnv()
	return t.run(ctx, os.Stdout, os.Stderr)
}

func (t tailCmd) run(ctx context.Context, stdout, stderr io.Writer) error {
	subject := t.Subject
	if subject == "" {
		s, err := events.NewSubjects(t.SubjectPrefix, t.Tenant)
		if err != nil {
			return err
		}
		subject = s.All()
	}
	start, replay, err := t.replayFrom(time.Now())
	if err != nil {
		return err
	}

	log := zerolog.New(stderr).With().Timestamp().Logger().Level(zerolog.WarnLevel)
	if errs := t.natsAuth.validate(); len(errs) > 0 {
		return errs[0]
	}
	nc, err := sinks.Connect(t.NatsURL, sinks.ConnectOptions{Name: "callrelay-tail", Logger: log, User: t.natsAuth.User, Password: t.natsAuth.Password})
	if err != nil {
		return natsAuthHint(err)
	}
	defer nc.Close()
	url := sinks.RedactURL(t.NatsURL)
	nc.SetDisconnectErrHandler(func(_ *nats.Conn, err error) {
		if err != nil {
			fmt.Fprintf(stderr, "relay tail: disconnected from %s (%v); reconnecting\n", url, err)
		}
	})
	nc.SetReconnectHandler(func(nc *nats.Conn) {
		fmt.Fprintf(stderr, "relay tail: reconnected to %s; following %s again\n", nc.ConnectedUrlRedacted(), subject)
	})

	msgs := make(chan tailMsg, 256)
	if replay {
		stream, err := t.consume(ctx, nc, subject, start, msgs)
		if err != nil {
			return err
		}
		from := "the start of the stream"
		if !start.IsZero() {
			from = start.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stderr, "relay tail: replaying %s from %s (stream %s), then following, on %s\n", subject, from, stream, url)
	} else {
		sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
			select {
			case msgs <- tailMsg{m.Subject, m.Header, m.Data}:
			case <-ctx.Done():
			}
		})
		if err != nil {
			return fmt.Errorf("subscribe to %s: %w", subject, err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		_ = sub.SetPendingLimits(-1, -1)
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("subscribe to %s: %w", subject, err)
		}
		fmt.Fprintf(stderr, "relay tail: following %s on %s\n", subject, url)
	}

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	write := writeJSONLine
	if t.Format == "text" {
		write = writeTextLine
	}
	for n := 0; t.Count == 0 || n < t.Count; n++ {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			write(out, m)
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// replayFrom reads --since and --all: replay is true when the stream is to
// be read first, from start (zero: from its first message).
func (t tailCmd) replayFrom(now time.Time) (start time.Time, replay bool, err error) {
	switch {
	case t.All && t.Since != "":
		return time.Time{}, false, errors.New("--all and --since: give one of them")
	case t.All:
		return time.Time{}, true, nil
	case t.Since == "":
		return time.Time{}, false, nil
	}
	if d, err := time.ParseDuration(t.Since); err == nil && d > 0 {
		return now.Add(-d), true, nil
	}
	if at, err := time.Parse(time.RFC3339, t.Since); err == nil {
		return at, true, nil
	}
	return time.Time{}, false, fmt.Errorf("--since %q: want a positive duration (10m, 2h) or an RFC 3339 time (2026-11-21T09:30:00Z)", t.Since)
}

// consume reads subject from the JetStream stream that stores it, from
// start, with an ordered consumer (no state on the server beyond it, gone
// when tail exits), into msgs. It returns the stream's name.
func (t tailCmd) consume(ctx context.Context, nc *nats.Conn, subject string, start time.Time, msgs chan<- tailMsg) (string, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	lookup, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := js.StreamNameBySubject(lookup, subject)
	if err != nil {
		return "", fmt.Errorf("--since and --all read the relay's JetStream stream, and no stream stores %s on %s: %w", subject, sinks.RedactURL(t.NatsURL), err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !start.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := js.OrderedConsumer(lookup, stream, cfg)
	if err != nil {
		return "", fmt.Errorf("read stream %s: %w", stream, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- tailMsg{m.Subject(), m.Headers(), m.Data()}:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return "", fmt.Errorf("read stream %s: %w", stream, err)
	}
	go func() { <-ctx.Done(); cc.Stop() }()
	return stream, nil
}

// writeJSONLine writes the message, compacted, with its subject added as
// the object's first member: {"subject":...,"id":...}. The relay's messages
// are objects without a top-level "subject"; anything else (something other
// than the relay published it) goes in "data", as a JSON string when it is
// not JSON.
func writeJSONLine(w *bufio.Writer, m tailMsg) {
	var buf bytes.Buffer
	buf.WriteString(`{"subject":`)
	subj, _ := json.Marshal(m.subject)
	buf.Write(subj)
	var body bytes.Buffer
	switch {
	case json.Compact(&body, m.data) == nil && bytes.HasPrefix(body.Bytes(), []byte("{")):
		if rest := body.Bytes()[1:]; rest[0] != '}' {
			buf.WriteByte(',')
			buf.Write(rest)
		} else {
			buf.WriteByte('}')
		}
	case json.Valid(m.data):
		buf.WriteString(`,"data":`)
		buf.Write(body.Bytes())
		buf.WriteByte('}')
	default:
		quoted, _ := json.Marshal(string(m.data))
		buf.WriteString(`,"data":`)
		buf.Write(quoted)
		buf.WriteByte('}')
	}
	buf.WriteByte('\n')
	_, _ = w.Write(buf.Bytes())
}

// tailFields are the fields of the relay's messages that a text line shows.
type tailFields struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	MessageID  string `json:"messageID"`
	CallID     string `json:"callId"`
	State      string `json:"state"`
	Direction  string `json:"direction"`
	Revision   int    `json:"revision"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	ReceivedAt string `json:"receivedAt"`
	UpdatedAt  string `json:"updatedAt"`
}

// writeTextLine writes one readable line: the time (ce-time, or the
// message's own), the subject, and what the message is, as key=value pairs.
func writeTextLine(w *bufio.Writer, m tailMsg) {
	var f tailFields
	if json.Unmarshal(m.data, &f) != nil {
		fmt.Fprintf(w, "%s  %s  %q\n", time.Now().Format("15:04:05.000"), m.subject, m.data)
		return
	}
	at := m.header.Get("ce-time")
	for _, s := range []string{f.ReceivedAt, f.UpdatedAt} {
		if at == "" {
			at = s
		}
	}
	when := time.Now()
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		when = t
	}
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	switch {
	case f.Revision > 0: // a call view
		add("call", f.CallID)
		add("state", f.State)
		add("direction", f.Direction)
		add("revision", strconv.Itoa(f.Revision))
	case f.Code != "": // a refused event
		add("id", f.ID)
		add("code", f.Code)
		add("reason", strconv.Quote(f.Message))
	default:
		add("event", f.MessageID)
		if f.MessageID == "" {
			add("event", f.Type)
		}
		add("call", f.CallID)
		add("id", f.ID)
	}
	fmt.Fprintf(w, "%s  %s  %s\n", when.Local().Format("15:04:05.000"), m.subject, strings.Join(parts, " "))
}
