package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/redact"
	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// Under the strict policy, the real relay publishes pseudonyms instead of
// the customer's and the agent's data, and the example still pops each call
// once, by its pseudonymous customer.
func TestPopsEachCallOnceUnderStrict(t *testing.T) {
	bin := MustBuild(t)
	srv, nc := MustServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sink, err := sinks.NewJetStream(ctx, nc, sinks.StreamConfig{Name: "AGENTCALL", Subjects: []string{"agentcall.>"}, Duplicates: 10 * time.Minute}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	spec, _ := redact.Preset(redact.PresetStrict)
	policy, err := spec.Compile([]byte("screenpop-test-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := relay.New(relay.Config{AllowNoOrigin: true, Redaction: policy}, sink, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = rs.Serve(ln) }()
	defer func() { _ = rs.Shutdown(context.Background()) }()
	post := func(events ...map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"events": events})
		resp, err := http.Post("http://"+ln.Addr().String()+"/v1/events", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Results []struct{ Status string } `json:"results"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Results) != len(events) {
			t.Fatalf("POST: status %d, %v, %+v", resp.StatusCode, err, out)
		}
		for i, r := range out.Results {
			if r.Status != "published" {
				t.Fatalf("event %d: %+v, want published", i, r)
			}
		}
	}
	ev := func(id, typ string, params map[string]any) map[string]any {
		return map[string]any{"id": id, "seenAt": time.Now().UTC().Format(time.RFC3339Nano),
			"data": map[string]any{"source": "agentCall", "type": typ, "params": params}}
	}
	talk := func(callID, partner, phone, email string) map[string]any {
		return map[string]any{"partnerId": partner, "uphone": phone, "uemail": "c@" + partner + ".example", "email": email, "callType": 2, "callId": callID}
	}
	bar := func(messageID, callID string, ms int64) map[string]any {
		return map[string]any{"messageID": messageID, "callID": callID, "creationTime": ms, "ANI": "13800138000"}
	}
	t0 := time.Now().UnixMilli()

	var out lines
	sp := start(t, bin, srv.ClientURL(), &out)
	// Call S1: talk details first. Call S2: ringing first, talk details later.
	post(ev("s1-1", "iframeParams", talk("CALL-S1", "P-1001", "13800138000", "agent01@example.com")),
		ev("s1-2", "callBarEvent", bar("EventRinging", "CALL-S1", t0)),
		ev("s1-3", "callBarEvent", bar("EventEstablished", "CALL-S1", t0+3000)),
		ev("s2-1", "callBarEvent", bar("EventRinging", "CALL-S2", t0+100)),
		ev("s2-2", "iframeParams", talk("CALL-S2", "P-2002", "13900139000", "agent02@example.com")),
		ev("s2-3", "callBarEvent", bar("EventEstablished", "CALL-S2", t0+4000)),
		ev("s2-4", "callBarEvent", bar("EventReleased", "CALL-S2", t0+9000)))
	out.WaitFor(t, "CALL-S1", 20*time.Second)
	out.WaitFor(t, "CALL-S2", 20*time.Second)
	js, _ := jetstream.New(nc)
	waitDrained(t, ctx, js)
	sp.Stop(t)

	got := out.All()
	want := []string{
		fmt.Sprintf("pop customer %s / %s for agent %s (call CALL-S1)", policy.Pseudonym("P-1001"), policy.Pseudonym("13800138000"), policy.Pseudonym("agent01@example.com")),
		fmt.Sprintf("pop customer %s / %s for agent %s (call CALL-S2)", policy.Pseudonym("P-2002"), policy.Pseudonym("13900139000"), policy.Pseudonym("agent02@example.com")),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got pops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, secret := range []string{"P-1001", "P-2002", "13800138000", "13900139000", "agent01@", "agent02@"} {
		if strings.Contains(strings.Join(got, "\n"), secret) {
			t.Errorf("a pop shows %q in clear", secret)
		}
	}
}
