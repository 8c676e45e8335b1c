package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
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
}

// Run subscribes and prints each message's JSON body on one line of stdout.
func (t tailCmd) Run() error {
	subject := t.Subject
	if subject == "" {
		s, err := events.NewSubjects(t.SubjectPrefix, t.Tenant)
		if err != nil {
			return err
		}
		subject = s.All()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log := zerolog.New(os.Stderr).With().Timestamp().Logger().Level(zerolog.WarnLevel)
	nc, err := sinks.Connect(t.NatsURL, sinks.ConnectOptions{Name: "callrelay-tail", Logger: log})
	if err != nil {
		return err
	}
	defer nc.Close()

	msgs := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe(subject, msgs)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	fmt.Fprintf(os.Stderr, "relay tail: following %s on %s\n", subject, sinks.RedactURL(t.NatsURL))

	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for n := 0; t.Count == 0 || n < t.Count; n++ {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			if err := writeLine(out, m.Data); err != nil {
				return err
			}
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeLine writes data as one compact JSON line, or as a JSON string when
// it is not JSON (something other than the relay published it).
func writeLine(w *bufio.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		quoted, _ := json.Marshal(string(data))
		buf.Reset()
		buf.Write(quoted)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
