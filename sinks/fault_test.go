package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// faultDeadline is the generous deadline publishes get while the server is
// down; they must fail well before it.
const faultDeadline = 5 * time.Second

// expectFailFast publishes through sink and checks that it fails, as not
// connected, before its deadline.
func expectFailFast(t *testing.T, sink relay.Sink, env relay.Envelope) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	_, err := syncPublish(ctx, sink, env)
	if err == nil {
		t.Fatal("got nil error publishing with the server down, want an error")
	}
	t.Logf("publish with the server down: %v", err)
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got error %v at the deadline, want one well before it", err)
	}
	if !errors.Is(err, sinks.ErrNotConnected) {
		t.Errorf("got error %v, want it to wrap ErrNotConnected", err)
	}
	if err := sink.Ready(context.Background()); err == nil {
		t.Errorf("got nil Ready error with the server down, want an error")
	}
}

func TestNATSServerDown(t *testing.T) {
	e := MustEmbedded(t)
	sink := sinks.NewNATS(MustConnect(t, e.ClientURL()), 0)
	if err := e.Close(); err != nil {
		t.Fatalf("close server: %v", err)
	}
	expectFailFast(t, sink, relay.Envelope{Subject: "agentcall.t.call", ID: "1", Data: []byte(`{}`)})
}

// TestJetStreamServerRestart stops the server under a JetStream sink with
// file storage, checks that publishes fail fast meanwhile, then starts a new
// server on the same port and store and checks that the sink recovers and
// that the messages acknowledged before the stop survived.
func TestJetStreamServerRestart(t *testing.T) {
	storeDir := t.TempDir()
	cfg := sinks.EmbeddedConfig{Port: -1, JetStream: true, StoreDir: storeDir, Logger: zerolog.Nop()}
	first := MustStartEmbedded(t, cfg)
	nc := MustConnect(t, first.ClientURL())
	sink := MustJetStream(t, nc, sinks.StreamConfig{Name: "AGENTCALL", Subjects: []string{"agentcall.>"}})

	const before = 3
	for i := range before {
		env := relay.Envelope{Subject: "agentcall.t.call", ID: fmt.Sprintf("before-%d", i), Data: []byte(`{}`)}
		if _, err := syncPublish(testContext(t), sink, env); err != nil {
			t.Fatalf("Publish %d before the stop: %v", i, err)
		}
	}

	// A publisher keeps going while the server stops: no publish may hang
	// until its deadline, even one in flight at the moment of the stop.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var hung, others []error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
			env := relay.Envelope{Subject: "agentcall.t.call", ID: fmt.Sprintf("during-%d", i), Data: []byte(`{}`)}
			_, err := syncPublish(ctx, sink, env)
			if err != nil && !errors.Is(err, sinks.ErrNotConnected) {
				others = append(others, err)
			}
			if ctx.Err() != nil {
				hung = append(hung, err)
			}
			cancel()
		}
	})

	if err := first.Close(); err != nil {
		t.Fatalf("close first server: %v", err)
	}
	expectFailFast(t, sink, relay.Envelope{Subject: "agentcall.t.call", ID: "down", Data: []byte(`{}`)})
	close(stop)
	wg.Wait()
	if len(hung) > 0 {
		t.Errorf("got %d publishes ending at their deadline while the server stopped (first: %v), want none", len(hung), hung[0])
	}

	if len(others) > 0 {
		t.Logf("publishes failing for another reason than the disconnect: %d, first: %v", len(others), others[0])
	}

	cfg.Port = portOf(t, first.ClientURL())
	MustStartEmbedded(t, cfg)
	waitFor(t, 10*time.Second, "Ready after restart", func() bool {
		return sink.Ready(context.Background()) == nil
	})
	env := relay.Envelope{Subject: "agentcall.t.call", ID: "after", Data: []byte(`{"after":true}`)}
	if _, err := syncPublish(testContext(t), sink, env); err != nil {
		t.Fatalf("Publish after restart: %v", err)
	}

	st := MustStream(t, nc, "AGENTCALL")
	for i := range before {
		msg, err := st.GetMsg(testContext(t), uint64(i+1))
		if err != nil {
			t.Fatalf("get message %d after restart: %v", i+1, err)
		}
		if got, want := msg.Header.Get(nats.MsgIdHdr), fmt.Sprintf("before-%d", i); got != want {
			t.Errorf("got Nats-Msg-Id %q at sequence %d, want %q", got, i+1, want)
		}
	}
	last, err := st.GetLastMsgForSubject(testContext(t), "agentcall.t.call")
	if err != nil {
		t.Fatalf("get last message: %v", err)
	}
	if got := string(last.Data); got != string(env.Data) {
		t.Errorf("got last message %s, want %s", got, env.Data)
	}
}
