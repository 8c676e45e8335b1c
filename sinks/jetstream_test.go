package sinks_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// memStream is the stream configuration most tests use.
func memStream() sinks.StreamConfig {
	return sinks.StreamConfig{Name: "AGENTCALL", Subjects: []string{"agentcall.>"}, Memory: true}
}

func TestNewJetStreamCreatesStream(t *testing.T) {
	nc := MustConnect(t, MustEmbedded(t).ClientURL())
	sink := MustJetStream(t, nc, memStream())
	if got, want := sink.Stream(), "AGENTCALL"; got != want {
		t.Errorf("got Stream() %q, want %q", got, want)
	}
	info, err := MustStream(t, nc, "AGENTCALL").Info(testContext(t))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if got, want := info.Config.Subjects, []string{"agentcall.>"}; !slices.Equal(got, want) {
		t.Errorf("got subjects %q, want %q", got, want)
	}
	if got, want := info.Config.Storage, jetstream.MemoryStorage; got != want {
		t.Errorf("got storage %s, want %s", got, want)
	}
	if got, want := info.Config.Duplicates.String(), "2m0s"; got != want {
		t.Errorf("got duplicates window %s, want %s", got, want)
	}
	// A second sink on the same stream, as a second replica of the relay
	// would make, finds it and succeeds.
	MustJetStream(t, nc, memStream())
}

func TestNewJetStreamChecksExistingSubjects(t *testing.T) {
	tests := []struct {
		name     string
		existing []string
		want     []string
		ok       bool
	}{
		{"same", []string{"agentcall.>"}, []string{"agentcall.>"}, true},
		{"wider", []string{"agentcall.>"}, []string{"agentcall.default.>", "agentcall.acme.call"}, true},
		{"one of several", []string{"other.>", "agentcall.*.>"}, []string{"agentcall.default.call"}, true},
		{"star covers literal", []string{"agentcall.*.call"}, []string{"agentcall.default.call"}, true},
		{"narrower", []string{"agentcall.default.>"}, []string{"agentcall.>"}, false},
		{"other prefix", []string{"orders.>"}, []string{"agentcall.>"}, false},
		{"literal does not cover star", []string{"agentcall.default.call"}, []string{"agentcall.*.call"}, false},
		{"star does not cover gt", []string{"agentcall.*"}, []string{"agentcall.>"}, false},
		{"second not covered", []string{"agentcall.a.>"}, []string{"agentcall.a.x", "agentcall.b.x"}, false},
	}
	nc := MustConnect(t, MustEmbedded(t).ClientURL())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			name := fmt.Sprintf("EXISTING%d", i)
			// Streams must not overlap, so each case gets its own prefix.
			prefix := func(subjects []string) []string {
				out := make([]string, len(subjects))
				for j, s := range subjects {
					out[j] = fmt.Sprintf("c%d.%s", i, s)
				}
				return out
			}
			existing := jetstream.StreamConfig{Name: name, Subjects: prefix(tt.existing), Storage: jetstream.MemoryStorage}
			if _, err := js.CreateStream(ctx, existing); err != nil {
				t.Fatalf("create existing stream: %v", err)
			}
			_, err := sinks.NewJetStream(ctx, nc, sinks.StreamConfig{Name: name, Subjects: prefix(tt.want), Memory: true}, 0)
			if tt.ok && err != nil {
				t.Errorf("got error %v, want nil", err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "do not cover")) {
				t.Errorf("got error %v, want one saying the subjects do not cover ours", err)
			}
			st, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatalf("look up stream: %v", err)
			}
			if got := st.CachedInfo().Config.Subjects; !slices.Equal(got, existing.Subjects) {
				t.Errorf("got subjects %q after NewJetStream, want them unchanged %q", got, existing.Subjects)
			}
		})
	}
}

func TestNewJetStreamRejectsBadConfig(t *testing.T) {
	nc := MustConnect(t, MustEmbedded(t).ClientURL())
	tests := []struct {
		name string
		cfg  sinks.StreamConfig
	}{
		{"no name", sinks.StreamConfig{Subjects: []string{"a.>"}}},
		{"dotted name", sinks.StreamConfig{Name: "A.B", Subjects: []string{"a.>"}}},
		{"no subjects", sinks.StreamConfig{Name: "A"}},
		{"gt not last", sinks.StreamConfig{Name: "A", Subjects: []string{"a.>.b"}}},
		{"empty token", sinks.StreamConfig{Name: "A", Subjects: []string{"a..b"}}},
		{"negative age", sinks.StreamConfig{Name: "A", Subjects: []string{"a.>"}, MaxAge: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := sinks.NewJetStream(testContext(t), nc, tt.cfg, 0); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
}

func TestJetStreamPublishStoresWithMsgID(t *testing.T) {
	nc := MustConnect(t, MustEmbedded(t).ClientURL())
	sink := MustJetStream(t, nc, memStream())
	env := relay.Envelope{
		Subject: "agentcall.default.iframeParams",
		ID:      "evt-42",
		Data:    []byte(`{"id":"evt-42","type":"iframeParams"}`),
	}
	dup, err := syncPublish(testContext(t), sink, env)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if dup {
		t.Errorf("got duplicate true on first publish, want false")
	}

	msg, err := MustStream(t, nc, "AGENTCALL").GetMsg(testContext(t), 1)
	if err != nil {
		t.Fatalf("get message 1: %v", err)
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

func TestJetStreamPublishDuplicate(t *testing.T) {
	nc := MustConnect(t, MustEmbedded(t).ClientURL())
	sink := MustJetStream(t, nc, memStream())
	env := relay.Envelope{Subject: "agentcall.default.call", ID: "same-id", Data: []byte(`{}`)}

	for i, want := range []bool{false, true, true} {
		dup, err := syncPublish(testContext(t), sink, env)
		if err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		if dup != want {
			t.Errorf("publish %d: got duplicate %t, want %t", i, dup, want)
		}
	}
	info, err := MustStream(t, nc, "AGENTCALL").Info(testContext(t))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if got, want := info.State.Msgs, uint64(1); got != want {
		t.Errorf("got %d messages in the stream, want %d", got, want)
	}
}

func TestJetStreamPublishKeepsOrder(t *testing.T) {
	nc := MustConnect(t, MustEmbedded(t).ClientURL())
	sink := MustJetStream(t, nc, memStream())
	const n = 20
	for i := range n {
		env := relay.Envelope{Subject: "agentcall.default.call", ID: fmt.Sprintf("id-%d", i), Data: []byte{byte(i)}}
		if _, err := syncPublish(testContext(t), sink, env); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	st := MustStream(t, nc, "AGENTCALL")
	for i := range n {
		msg, err := st.GetMsg(testContext(t), uint64(i+1))
		if err != nil {
			t.Fatalf("get message %d: %v", i+1, err)
		}
		if got := int(msg.Data[0]); got != i {
			t.Errorf("got message %d at sequence %d, want %d", got, i+1, i)
		}
	}
}

func TestJetStreamPublishWithoutStream(t *testing.T) {
	nc := MustConnect(t, MustEmbedded(t).ClientURL())
	sink := MustJetStream(t, nc, memStream())
	_, err := syncPublish(testContext(t), sink, relay.Envelope{Subject: "elsewhere.x", ID: "1", Data: []byte(`{}`)})
	if !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("got error %v, want it to wrap %v", err, jetstream.ErrNoStreamResponse)
	}
	if errors.Is(err, sinks.ErrNotConnected) {
		t.Errorf("got error %v wrapping ErrNotConnected, want it not to", err)
	}
}
