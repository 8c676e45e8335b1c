package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/sinks"
)

// Two relay processes on one NATS with --state shared: a call whose events
// alternate between them ends with one correct call view, each event is
// published once, and repeats sent to the other process (another tab) are
// recognised there.
func TestTwoRelayProcessesShareState(t *testing.T) {
	bin := MustBuild(t)
	ns := MustEmbeddedNATS(t)
	shared := []string{"--nats-url", ns.ClientURL(), "--state", "shared", "--demo", "off"}
	replicas := []*wsPeer{
		dialBanner(t, startRelay(t, bin, shared...)),
		dialBanner(t, startRelay(t, bin, shared...)),
	}

	const call = "CALL-SHARED-1"
	bar := func(messageID string, at int64, extra map[string]any) map[string]any {
		p := map[string]any{"messageID": messageID, "callID": call, "creationTime": at, "companyId": "cmp-01", "callType": "Inbound", "partyID": "p-1"}
		for k, v := range extra {
			p[k] = v
		}
		return map[string]any{"source": "agentCall", "type": "callBarEvent", "params": p}
	}
	talk := map[string]any{"source": "agentCall", "type": "iframeParams", "params": map[string]any{
		"callId": call, "callType": 2, "partnerId": "P-42", "uphone": "158****2496", "encryptUphone": "ENC-1", "email": "agent01@example.com",
	}}
	t0 := time.Now().Add(-2 * time.Minute).UnixMilli() // within --max-clock-skew
	steps := []struct {
		replica int
		id      string
		data    map[string]any
		status  string
	}{
		{0, "sh-1", bar("EventRinging", t0, nil), "published"},
		{1, "sh-2", talk, "published"},
		{0, "sh-2b", talk, "duplicate"}, // the same talk details again, through the other process
		{0, "sh-3", bar("EventEstablished", t0+6000, map[string]any{"firstDistributedQueueName": "Sales", "lastDistributedQueueName": "VIP"}), "published"},
		{1, "sh-3b", bar("EventEstablished", t0+6000, map[string]any{"firstDistributedQueueName": "Sales", "lastDistributedQueueName": "VIP"}), "duplicate"}, // another tab
		{1, "sh-4", bar("EventReleased", t0+98000, nil), "published"},
		{0, "sh-5", bar("EventCallDeleted", t0+99000, nil), "published"},
	}
	for _, s := range steps {
		if got := replicas[s.replica].call(t, s.id, s.data); got != s.status {
			t.Fatalf("%s on relay %d: got %s, want %s", s.id, s.replica, got, s.status)
		}
	}

	msgs := readStream(t, ns.ClientURL())
	count := map[string]int{}
	var last map[string]any
	var released map[string]any
	for _, m := range msgs {
		count[m.subject]++
		if m.subject == "agentcall.default.call" && (last == nil || m.body["revision"].(float64) > last["revision"].(float64)) {
			last = m.body
		}
		if m.subject == "agentcall.default.callBarEvent.EventReleased" {
			released = m.body
		}
	}
	for subject, want := range map[string]int{
		"agentcall.default.callBarEvent.EventRinging":     1,
		"agentcall.default.callBarEvent.EventEstablished": 1,
		"agentcall.default.callBarEvent.EventReleased":    1,
		"agentcall.default.callBarEvent.EventCallDeleted": 1,
		"agentcall.default.iframeParams":                  1,
	} {
		if count[subject] != want {
			t.Errorf("%s: got %d messages, want %d (all: %v)", subject, count[subject], want, count)
		}
	}
	if last == nil {
		t.Fatal("no call view published")
	}
	customer, _ := last["customer"].(map[string]any)
	queue, _ := last["queue"].(map[string]any)
	if last["state"] != "ended" || last["direction"] != "inbound" || customer["partnerId"] != "P-42" || queue == nil ||
		last["ringSeconds"] != float64(6) || last["talkSeconds"] != float64(92) || last["talkDetails"] != true {
		b, _ := json.Marshal(last)
		t.Errorf("final call view is wrong:\n%s", b)
	}
	if talkParams, _ := released["talk"].(map[string]any); talkParams["partnerId"] != "P-42" {
		t.Errorf("EventReleased, published by the other process after the talk details, lacks talk: %v", released["talk"])
	}
}

// wsPeer is one WebSocket to one relay process.
type wsPeer struct{ ws *websocket.Conn }

func dialBanner(t *testing.T, banner map[string]string) *wsPeer {
	t.Helper()
	url := strings.Fields(banner["websocket"])[0]
	origin := strings.Replace(strings.TrimSuffix(url, "/v1/ws"), "ws://", "http://", 1)
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {origin}})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return &wsPeer{ws}
}

// call sends one event and returns the ack's status, or "nack <code>".
func (p *wsPeer) call(t *testing.T, id string, data map[string]any) string {
	t.Helper()
	frame, _ := json.Marshal(map[string]any{"type": "event", "id": id, "seenAt": "2026-11-21T09:30:00Z", "data": data})
	if err := p.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		t.Fatal(err)
	}
	_ = p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var a struct{ Type, Status, Code string }
	if err := p.ws.ReadJSON(&a); err != nil {
		t.Fatal(err)
	}
	if a.Type != "ack" {
		return fmt.Sprintf("%s %s", a.Type, a.Code)
	}
	return a.Status
}

// streamMsg is one message of the stream.
type streamMsg struct {
	subject, msgID string
	body           map[string]any
}

// readStream returns every message of the AGENTCALL stream, in order,
// through an ordered consumer (the fault test reads thousands).
func readStream(t *testing.T, url string) []streamMsg {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "AGENTCALL")
	if err != nil {
		t.Fatal(err)
	}
	total := s.CachedInfo().State.Msgs
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []streamMsg
	for uint64(len(out)) < total {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			var body map[string]any
			if err := json.Unmarshal(m.Data(), &body); err != nil {
				t.Fatalf("stored message on %s is not JSON: %v", m.Subject(), err)
			}
			out = append(out, streamMsg{subject: m.Subject(), msgID: m.Headers().Get("Nats-Msg-Id"), body: body})
			n++
		}
		if n == 0 {
			t.Fatalf("read %d of %d messages of the stream", len(out), total)
		}
	}
	return out
}

// MustEmbeddedNATS starts a JetStream server on a random loopback port,
// closed when the test ends.
func MustEmbeddedNATS(tb testing.TB) *sinks.Embedded {
	tb.Helper()
	ns, err := sinks.NewEmbedded(sinks.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: tb.TempDir(), JetStream: true, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	if err := ns.Start(10 * time.Second); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ns.Close() })
	return ns
}
