package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/callrelay/callrelay/redact"
	"github.com/callrelay/callrelay/relay"
)

var pseudonymKey = []byte("test-pseudonym-key-0123456789abcdef")

// MustStrict is the strict preset under the tests' key.
func MustStrict(tb testing.TB) *redact.Policy {
	tb.Helper()
	spec, err := redact.Preset(redact.PresetStrict)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := spec.Compile(pseudonymKey)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func withPolicy(p *redact.Policy) relayOption {
	return func(c *relay.Config) { c.Redaction = p }
}

// The personal data of the fixtures below: none of it may be stored
// anywhere under strict, in any spelling the workbench used.
var personal = []string{
	"P-778899", "u-123", "li.lei@example.com", "agent01@example.com", "158****2496", "9f86d081884c7d659a2feaa0c55ad015",
	"13612345678", "075588886666", "8001", "13712345678", "ops.lead@example.com", "CUST-OUT-9",
}

// strictFlow sends an inbound call, an outbound call, agent events and a
// refused event carrying personal data, and checks every answer.
func strictFlow(t *testing.T, tr *testRelay) {
	t.Helper()
	c := tr.MustDial(t)
	in := callSteps("CALL-IN-1")
	in["ringing"]["params"].(map[string]any)["ANI"] = "13612345678"
	in["ringing"]["params"].(map[string]any)["DNIS"] = "075588886666"
	in["ringing"]["params"].(map[string]any)["thisDN"] = "8001"
	in["established"]["params"].(map[string]any)["otherDN"] = "13612345678"
	for i, step := range stepOrder {
		if a := c.Call(t, fmt.Sprintf("in-%d", i), in[step]); a.Status != relay.StatusPublished {
			t.Fatalf("inbound %s: got %+v, want published", step, a)
		}
	}
	out := []map[string]any{
		callBar("EventDialing", map[string]any{"callID": "CALL-OUT-1", "callType": "Outbound", "creationTime": t0 + 100000, "ANI": "8001", "DNIS": "13712345678", "otherDN": "13712345678"}),
		iframeParams(map[string]any{"callId": "CALL-OUT-1", "callType": 3, "partnerId": "CUST-OUT-9", "uphone": "13712345678", "encryptUphone": "", "uemail": "", "email": "ops.lead@example.com"}),
		callBar("EventEstablished", map[string]any{"callID": "CALL-OUT-1", "callType": "Outbound", "creationTime": t0 + 105000, "otherDN": "13712345678"}),
		callBar("EventReleased", map[string]any{"callID": "CALL-OUT-1", "creationTime": t0 + 125000}),
		callBar("EventAgentReady", map[string]any{"agentID": "1001", "agentUUID": "ag-uuid-1", "thisDN": "8001", "creationTime": t0 + 130000}),
		callBar("EventAgentNotReady", map[string]any{"agentID": "1001", "agentUUID": "ag-uuid-1", "thisDN": "8001", "creationTime": t0 + 140000}),
	}
	for i, data := range out {
		if a := c.Call(t, fmt.Sprintf("out-%d", i), data); a.Status != relay.StatusPublished {
			t.Fatalf("outbound %d: got %+v, want published", i, a)
		}
	}
	bad := callBar("EventRinging", map[string]any{"callID": "CALL-IN-1", "creationTime": "not a number", "ANI": "13612345678"})
	if a := c.Call(t, "bad-1", bad); a.Type != "nack" || a.Retry {
		t.Fatalf("refused event: got %+v, want a nack without retry", a)
	}
	c.SendRaw(t, []byte(`{"type":"event","id":"bad-2","seenAt":"`+seenAt+`","data":{"source":"agentCall","type":"iframeParams","params":{"uphone":"13612345678","callId":5.5e999}}}`))
	if a := c.Read(t); a.Type != "nack" {
		t.Fatalf("refused event: got %+v, want a nack", a)
	}
}

// Under strict, no phone number, email, partnerId or signature reaches the
// stream (bodies and headers) or the shared state's buckets (keys and
// values), and the call views are still complete and correlated.
func TestStrictStoresNoPersonalData(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			policy := MustStrict(t)
			ns := MustNATS(t)
			tr := MustRelayOn(t, ns, shared, withPolicy(policy))
			strictFlow(t, tr)

			msgs := tr.streamMsgs(t)
			if len(msgs) < 20 {
				t.Fatalf("got %d stored messages, want the flow's events and views", len(msgs))
			}
			for _, m := range msgs {
				var all bytes.Buffer
				all.Write(m.Data)
				for k, vs := range m.Header {
					all.WriteString(k + ":" + strings.Join(vs, ",") + "\n")
				}
				for _, secret := range personal {
					if bytes.Contains(all.Bytes(), []byte(secret)) {
						t.Errorf("stream message %d on %s holds %q:\n%s", m.Sequence, m.Subject, secret, all.Bytes())
					}
				}
				var v struct {
					Redaction string `json:"redaction"`
				}
				if err := json.Unmarshal(m.Data, &v); err != nil || v.Redaction != policy.Version() {
					t.Errorf("message %d on %s: redaction %q, want %q", m.Sequence, m.Subject, v.Redaction, policy.Version())
				}
			}
			checkBuckets(t, tr, shared)

			views := tr.views(t)
			var last callView
			for _, v := range views {
				if v.CallID == "CALL-IN-1" {
					last = v
				}
			}
			ph := policy.Pseudonym
			want := callView{
				CallID: "CALL-IN-1", State: "ended", Direction: "inbound", TalkDetails: true,
				Agent:    map[string]string{"email": ph("agent01@example.com"), "id": "1001"},
				Customer: map[string]string{"partnerId": ph("P-778899"), "uid": ph("u-123"), "uphone": ph("158****2496"), "uemail": ph("li.lei@example.com"), "encryptUphone": "ENC-QUJDREVGMTIzNDU2"},
			}
			if last.State != want.State || last.Direction != want.Direction || !last.TalkDetails ||
				fmt.Sprint(last.Customer) != fmt.Sprint(want.Customer) || fmt.Sprint(last.Agent) != fmt.Sprint(want.Agent) ||
				len(last.Queue) == 0 || last.TalkSeconds != 60 || len(last.MessageIDs) != 4 {
				t.Errorf("final view of CALL-IN-1:\n got %+v\nwant %+v with the queue, 60 s of talk and 4 message IDs", last, want)
			}
			// The phone-bar events after the talk details carry them, pseudonymised.
			for _, e := range tr.published(t, "agentcall.default.callBarEvent.EventEstablished") {
				talk, _ := e["talk"].(map[string]any)
				if e["callId"] == "CALL-IN-1" && (talk == nil || talk["partnerId"] != ph("P-778899")) {
					t.Errorf("EventEstablished of CALL-IN-1: talk %v, want the pseudonymised talk details", talk)
				}
				if e["callId"] == "CALL-IN-1" {
					params, _ := e["params"].(map[string]any)
					if params["otherDN"] != ph("13612345678") {
						t.Errorf("otherDN: got %v, want the pseudonym of the number", params["otherDN"])
					}
				}
			}
			// A repeat of identical talk details is still recognised.
			c := tr.MustDial(t)
			if a := c.Call(t, "in-talk-again", callSteps("CALL-IN-1")["talk"]); a.Status != relay.StatusDuplicate {
				t.Errorf("identical talk details again: got %+v, want duplicate", a)
			}
		})
	}
}

// checkBuckets reads every key-value bucket on the server: keys and values
// must hold no personal data; with shared state, there must be some.
func checkBuckets(t *testing.T, tr *testRelay, shared bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	names := tr.js.KeyValueStoreNames(ctx)
	entries := 0
	for name := range names.Name() {
		kv, err := tr.js.KeyValue(ctx, name)
		if err != nil {
			t.Fatalf("bucket %s: %v", name, err)
		}
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			t.Fatalf("keys of %s: %v", name, err)
		}
		for key := range keys.Keys() {
			entry, err := kv.Get(ctx, key)
			if err != nil && err != jetstream.ErrKeyNotFound {
				t.Fatalf("get %s/%s: %v", name, key, err)
			}
			entries++
			for _, secret := range personal {
				if strings.Contains(key, secret) || (entry != nil && bytes.Contains(entry.Value(), []byte(secret))) {
					t.Errorf("bucket %s key %s holds %q", name, key, secret)
				}
			}
		}
	}
	if shared && entries == 0 {
		t.Error("shared state: no bucket entries found to check")
	}
}

// Under none (the default), the same flow publishes the values as received
// and says so.
func TestNoneKeepsPersonalData(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	if a := c.Call(t, "n-1", callSteps("CALL-N")["talk"]); a.Status != relay.StatusPublished {
		t.Fatalf("got %+v", a)
	}
	got := tr.published(t, "agentcall.default.iframeParams")
	if len(got) != 1 || got[0]["redaction"] != "none" {
		t.Fatalf("got %v, want one message with redaction none", got)
	}
	if params, _ := got[0]["params"].(map[string]any); params["uemail"] != "li.lei@example.com" {
		t.Errorf("uemail: got %v, want it as received", params["uemail"])
	}
}
