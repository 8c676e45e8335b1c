package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/callrelay/callrelay/relay"
)

// NATS stopped mid-run: events get retry:true nacks and /readyz says not
// ready; NATS back: the same events are acked, and no acked event is missing
// from the stream.
func TestNATSOutageNacksWithRetryAndRecovers(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.PublishTimeout = time.Second })
	c := tr.MustDial(t)

	acked := map[string]bool{}
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("before-%d", i)
		if a := c.Call(t, id, callBar("EventAgentReady", nil)); a.Status != relay.StatusPublished {
			t.Fatalf("%s: got %+v, want published", id, a)
		}
		acked[id] = true
	}

	if err := tr.ns.Close(); err != nil {
		t.Fatalf("stop nats: %v", err)
	}
	eventually(t, "the relay to notice NATS is gone", func() bool {
		status, _ := tr.get(t, "/readyz")
		return status == http.StatusServiceUnavailable
	})
	if _, body := tr.get(t, "/metrics"); !strings.Contains(body, "callrelay_sink_up 0") {
		t.Errorf("metrics during the outage lack callrelay_sink_up 0")
	}
	var pending []string
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("during-%d", i)
		a := c.Call(t, id, callBar("EventAgentNotReady", nil))
		// The first is refused for the outage; the later ones are held
		// behind it (DESIGN §4: nothing is stored ahead of it).
		want := relay.CodeSinkUnavailable
		if i > 0 {
			want = relay.CodeHeldForOrder
		}
		if a.Type != "nack" || a.Code != want || !a.Retry {
			t.Fatalf("%s during the outage: got %+v, want nack %s retry:true", id, a, want)
		}
		pending = append(pending, id)
	}
	// A bad event cannot be recorded on rejected either: it must be kept too.
	bad := c.Call(t, "bad-during", map[string]any{"source": "agentCall", "type": "nope"})
	if bad.Type != "nack" || !bad.Retry {
		t.Fatalf("bad event during the outage: got %+v, want a retryable nack", bad)
	}

	tr.startNATS(t, tr.natsPort) // same port, same store
	eventually(t, "the relay to be ready again", func() bool {
		status, _ := tr.get(t, "/readyz")
		return status == http.StatusOK
	})
	for _, id := range pending { // the client's resend
		if a := c.Call(t, id, callBar("EventAgentNotReady", nil)); a.Type != "ack" {
			t.Fatalf("%s after recovery: got %+v, want ack", id, a)
		}
		acked[id] = true
	}
	if a := c.Call(t, "bad-during", map[string]any{"source": "agentCall", "type": "nope"}); a.Code != "invalid_type" || a.Retry {
		t.Fatalf("bad event after recovery: got %+v, want invalid_type retry:false", a)
	}

	seen := map[string]int{}
	for _, m := range tr.published(t, "") {
		if m["_subject"] != "agentcall.default.rejected" {
			seen[m["id"].(string)]++
		}
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("%s: acked, found %d times in the stream, want 1", id, seen[id])
		}
	}
	if len(seen) != len(acked) {
		t.Errorf("got %d ids in the stream, want the %d acked ones", len(seen), len(acked))
	}
}

// SIGTERM's path: Shutdown finishes what is in hand and closes every
// WebSocket with 1001 going away; new events get a retryable nack.
func TestShutdownClosesWithGoingAway(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	if a := c.Call(t, "s-1", callBar("EventAgentLogin", nil)); a.Status != relay.StatusPublished {
		t.Fatalf("got %+v, want published", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	ce := c.ReadClose(t)
	if ce.Code != websocket.CloseGoingAway {
		t.Fatalf("got close %d %q, want 1001", ce.Code, ce.Text)
	}
	if _, _, err := tr.dial(tr.base); err == nil {
		t.Fatal("dial after shutdown succeeded, want refused")
	}
	if err := tr.srv.Shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
}

// Shutdown while a client keeps sending: Shutdown finishes in time, the
// client sees 1001, and every event it got an ack for is in the stream.
func TestShutdownWhileSending(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	acked := make(chan []string, 1)
	var nAcked atomic.Int64
	go func() {
		var ids []string
		for i := 0; ; i++ {
			id := fmt.Sprintf("busy-%d", i)
			_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if err := c.ws.WriteMessage(websocket.TextMessage, eventFrame(id, callBar("EventAgentReady", nil))); err != nil {
				break
			}
			_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := c.ws.ReadMessage()
			if err != nil {
				break
			}
			if strings.Contains(string(data), `"type":"draining"`) { // a notice, not the answer
				if _, data, err = c.ws.ReadMessage(); err != nil {
					break
				}
			}
			var a answer
			_ = json.Unmarshal(data, &a)
			if a.Type == "ack" {
				if a.ID != id {
					t.Errorf("got the answer to %s after sending %s", a.ID, id)
				}
				ids = append(ids, a.ID)
				nAcked.Add(1)
			}
		}
		acked <- ids
	}()
	eventually(t, "some events to be acked", func() bool { return nAcked.Load() >= 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	ids := <-acked
	if len(ids) == 0 {
		t.Fatal("no event was acked before the shutdown")
	}
	stored := map[string]bool{}
	for _, m := range tr.published(t, "") {
		stored[m["id"].(string)] = true
	}
	for _, id := range ids {
		if !stored[id] {
			t.Errorf("%s was acked but is not in the stream", id)
		}
	}
}
