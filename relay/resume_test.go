package relay_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/callrelay/callrelay/relay"
)

// NATS stops and comes back: every connected client gets a resume frame
// once the sink is back (the one that got a retry:true nack, and one that
// sent nothing), and the resent event is then stored.
func TestSinkBackSendsResume(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.PublishTimeout = time.Second })
	busy, idle := tr.MustDial(t), tr.MustDial(t)
	if a := busy.Call(t, "r-1", callBar("EventAgentLogin", nil)); a.Type != "ack" {
		t.Fatalf("before the outage: got %+v, want an ack", a)
	}
	if err := tr.ns.Close(); err != nil {
		t.Fatalf("stop nats: %v", err)
	}
	eventually(t, "the relay to notice NATS is gone", func() bool {
		status, _ := tr.get(t, "/readyz")
		return status != 200
	})
	if a := busy.Call(t, "r-2", callBar("EventAgentReady", nil)); a.Type != "nack" || !a.Retry {
		t.Fatalf("during the outage: got %+v, want a retryable nack", a)
	}

	tr.startNATS(t, tr.natsPort)
	for name, c := range map[string]*wsClient{"busy": busy, "idle": idle} {
		_ = c.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatalf("%s client: no frame after NATS came back: %v", name, err)
		}
		var f struct{ Type string }
		if err := json.Unmarshal(data, &f); err != nil || f.Type != "resume" {
			t.Fatalf("%s client: got %s, want the resume frame", name, data)
		}
	}
	if a := busy.Call(t, "r-2", callBar("EventAgentReady", nil)); a.Type != "ack" {
		t.Fatalf("resend after the resume frame: got %+v, want an ack", a)
	}
	if _, body := tr.get(t, "/metrics"); !strings.Contains(body, "callrelay_sink_resumes_total 1") {
		t.Errorf("metrics lack callrelay_sink_resumes_total 1")
	}
}
