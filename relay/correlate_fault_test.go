package relay_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// failCalls wraps the real JetStream sink and fails the next n publishes of
// call views, as a NATS outage between the event and its view would.
type failCalls struct {
	relay.Sink
	n atomic.Int32
}

func (f *failCalls) Publish(env relay.Envelope, c relay.Completion, tag int) {
	if strings.HasSuffix(env.Subject, ".call") && f.n.Add(-1) >= 0 {
		c.Published(tag, false, errors.New("injected: call view not published"))
		return
	}
	f.Sink.Publish(env, c, tag)
}

// mustRelayOverSink starts a relay with its own embedded NATS server whose
// JetStream sink is wrapped by wrap, which injects a fault; everything is
// closed at cleanup.
func mustRelayOverSink(t *testing.T, wrap func(relay.Sink) relay.Sink) *testRelay {
	t.Helper()
	ns := MustNATS(t)
	nc, err := sinks.Connect(ns.ClientURL(), sinks.ConnectOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := sinks.NewJetStream(ctx, nc, sinks.StreamConfig{Name: "AGENTCALL", Subjects: []string{"agentcall.>"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(js.Close)
	tr := &testRelay{ns: ns, reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	srv, err := relay.New(relay.Config{PublishTimeout: 2 * time.Second, MaxClockSkew: 20 * 365 * 24 * time.Hour}, wrap(js), zerolog.Nop(), tr.reg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr.base = "http://" + ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	if tr.obs, err = nats.Connect(ns.ClientURL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.obs.Close)
	tr.js, _ = jetstream.New(tr.obs)
	return tr
}

// When the call view cannot be published after its event was, the event is
// nacked with retry and no correlation state is committed; the resend is a
// duplicate for the stream, and publishes the view and commits the state.
func TestCallViewFailureIsRetriedWithoutLoss(t *testing.T) {
	sink := &failCalls{}
	tr := mustRelayOverSink(t, func(js relay.Sink) relay.Sink { sink.Sink = js; return sink })

	c := tr.MustDial(t)
	steps := callSteps("FAIL-1")
	if a := c.Call(t, "f-talk", steps["talk"]); a.Status != relay.StatusPublished {
		t.Fatalf("talk: got %+v", a)
	}
	sink.n.Store(1)
	if a := c.Call(t, "f-ring", steps["ringing"]); a.Type != "nack" || !a.Retry || a.Code != relay.CodeSinkUnavailable {
		t.Fatalf("ringing with its view failing: got %+v, want a retryable nack", a)
	}
	// The resend: the stream has the event, the view and the state follow.
	if a := c.Call(t, "f-ring", steps["ringing"]); a.Type != "ack" || a.Status != relay.StatusDuplicate {
		t.Fatalf("resend: got %+v, want ack duplicate", a)
	}
	// The same ringing from another tab is now a known vendor event.
	if a := c.Call(t, "f-ring-tab2", steps["ringing"]); a.Status != relay.StatusDuplicate {
		t.Fatalf("other tab: got %+v, want duplicate", a)
	}
	views := tr.views(t)
	if len(views) != 2 || views[1].State != "ringing" || !views[1].TalkDetails || views[1].Revision != 2 {
		t.Fatalf("got views %+v, want revision 2 ringing with the talk details", views)
	}
	if n := len(tr.published(t, "agentcall.default.callBarEvent.EventRinging")); n != 1 {
		t.Errorf("got %d ringing events in the stream, want 1", n)
	}
	_, body := tr.get(t, "/metrics")
	if !strings.Contains(body, `callrelay_correlation_total{result="matched"} 1`) {
		t.Errorf("the match must be counted once")
	}
}
