package sinks_test

import (
	"context"
	"testing"
	"time"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

func TestNATSPublishDeliversWithHeader(t *testing.T) {
	e := MustEmbedded(t)
	sub := MustConnect(t, e.ClientURL())
	s, err := sub.SubscribeSync("agentcall.default.>")
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatalf("flush subscription: %v", err)
	}

	sink := sinks.NewNATS(MustConnect(t, e.ClientURL()), 0)
	env := relay.Envelope{
		Subject: "agentcall.default.callBarEvent.EventRinging",
		ID:      "evt-1",
		Data:    []byte(`{"id":"evt-1"}`),
	}
	dup, err := syncPublish(testContext(t), sink, env)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if dup {
		t.Errorf("got duplicate true, want false")
	}

	msg, err := s.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if msg.Subject != env.Subject {
		t.Errorf("got subject %q, want %q", msg.Subject, env.Subject)
	}
	if string(msg.Data) != string(env.Data) {
		t.Errorf("got data %s, want %s", msg.Data, env.Data)
	}
	if got := msg.Header.Get("Nats-Msg-Id"); got != env.ID {
		t.Errorf("got Nats-Msg-Id %q, want %q", got, env.ID)
	}
}

// TestNATSPublishWaitsForServer shows that Publish returns only after the
// server has processed the message: a subscription on the publishing
// connection itself already holds the message, because the server sends the
// message back before it answers the flush that Publish waits for.
func TestNATSPublishWaitsForServer(t *testing.T) {
	e := MustEmbedded(t)
	nc := MustConnect(t, e.ClientURL())
	s, err := nc.SubscribeSync("agentcall.>")
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	sink := sinks.NewNATS(nc, 0)

	const n = 50
	for i := range n {
		if _, err := syncPublish(context.Background(), sink, relay.Envelope{Subject: "agentcall.t.call", Data: []byte{byte(i)}}); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		got, _, err := s.Pending()
		if err != nil {
			t.Fatalf("pending: %v", err)
		}
		if got != i+1 {
			t.Fatalf("got %d messages pending after publish %d returned, want %d", got, i, i+1)
		}
	}
	// And they arrive in the order they were published.
	for i := range n {
		msg, err := s.NextMsg(time.Second)
		if err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if got := int(msg.Data[0]); got != i {
			t.Fatalf("got message %d in position %d, want %d", got, i, i)
		}
	}
}

func TestNATSReady(t *testing.T) {
	e := MustEmbedded(t)
	sink := sinks.NewNATS(MustConnect(t, e.ClientURL()), 0)
	if err := sink.Ready(testContext(t)); err != nil {
		t.Errorf("got Ready error %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sink.Ready(ctx); err == nil {
		t.Errorf("got nil Ready error with a cancelled context, want an error")
	}
}
