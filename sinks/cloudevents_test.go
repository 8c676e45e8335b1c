package sinks_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// Both sinks send the CloudEvents binary-mode headers of each envelope, and
// a message reusing a pooled one keeps nothing of the one before: the
// agent event after a call event has no ce-subject.
func TestSinksSendCloudEventsHeaders(t *testing.T) {
	envs := []relay.Envelope{{
		Subject: "agentcall.default.callBarEvent.EventRinging", ID: "ev-1", Type: "com.sobot.agentcall.callBarEvent.EventRinging",
		Source: "/callrelay/agentcall/default", CallID: "CALL-1", Time: "2026-11-21T09:30:00.5Z", Data: []byte(`{"id":"ev-1"}`),
	}, {
		Subject: "agentcall.default.callBarEvent.EventAgentReady", ID: "ev-2", Type: "com.sobot.agentcall.callBarEvent.EventAgentReady",
		Source: "/callrelay/agentcall/default", Time: "2026-11-21T09:30:01Z", Data: []byte(`{"id":"ev-2"}`),
	}}
	want := func(env relay.Envelope) nats.Header {
		h := nats.Header{
			"Nats-Msg-Id": {env.ID}, "ce-specversion": {"1.0"}, "ce-id": {env.ID}, "ce-source": {env.Source},
			"ce-type": {env.Type}, "ce-time": {env.Time}, "content-type": {"application/json"},
		}
		if env.CallID != "" {
			h["ce-subject"] = []string{env.CallID}
		}
		return h
	}
	for _, kind := range []string{"jetstream", "nats"} {
		t.Run(kind, func(t *testing.T) {
			e := MustEmbedded(t)
			nc := MustConnect(t, e.ClientURL())
			sub, err := nc.SubscribeSync("agentcall.>")
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			var sink relay.Sink = sinks.NewNATS(nc, 0)
			if kind == "jetstream" {
				sink = MustJetStream(t, nc, memStream())
			}
			for _, env := range envs {
				if _, err := syncPublish(testContext(t), sink, env); err != nil {
					t.Fatalf("publish %s: %v", env.ID, err)
				}
			}
			for _, env := range envs {
				msg, err := sub.NextMsg(5 * time.Second)
				if err != nil {
					t.Fatalf("receive %s: %v", env.ID, err)
				}
				w := want(env)
				if len(msg.Header) != len(w) {
					t.Errorf("%s: got headers %v, want %v", env.ID, msg.Header, w)
				}
				for k, v := range w {
					if got := msg.Header.Values(k); len(got) != 1 || got[0] != v[0] {
						t.Errorf("%s: got %s %q, want %q", env.ID, k, got, v[0])
					}
				}
			}
		})
	}
}
