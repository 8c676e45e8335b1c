package relay_test

import (
	"regexp"
	"strings"
	"testing"
)

// Personal data never reaches a log line, whatever path the event takes:
// published, refused, duplicate, at debug level.
func TestLogsCarryNoPersonalData(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	secrets := map[string]any{
		"uphone": "13912345678", "encryptUphone": "ENC-SECRET-PHONE", "uemail": "customer.secret@example.org",
		"email": "agent.secret@example.org", "partnerId": "PARTNER-SECRET-42", "sign": "d41d8cd98f00b204e9800998ecf8427e",
	}
	c.Call(t, "pii-1", iframeParams(secrets))
	c.Call(t, "pii-1", iframeParams(secrets)) // duplicate
	bad := iframeParams(secrets)
	bad["params"].(map[string]any)["city"] = 12.5 // invalid_field
	c.Call(t, "pii-2", bad)
	c.Call(t, "pii-3", map[string]any{"source": "crm", "params": secrets})
	c.SendRaw(t, []byte(`{"type":"event","id":"pii-4","seenAt":"x","data":{"uphone":"13912345678"}}`))
	c.Read(t)
	c.SendRaw(t, []byte(`{"type":"hello","token":"TOKEN-SECRET-abc","session":"s-1"}`))
	c.Read(t)
	tr.post(t, `{"events":[{"id":"pii-5","seenAt":1,"data":{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventRinging","ANI":"13912345678"}}}]}`, nil)

	logs := tr.logs.String()
	if !strings.Contains(logs, "pii-2") || !strings.Contains(logs, "event refused") {
		t.Fatalf("the test did not produce the expected log lines:\n%s", logs)
	}
	for _, s := range []string{"13912345678", "ENC-SECRET-PHONE", "customer.secret@example.org", "agent.secret@example.org",
		"PARTNER-SECRET-42", "d41d8cd98f00b204e9800998ecf8427e", "TOKEN-SECRET-abc"} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains %q", s)
		}
	}
	if m := regexp.MustCompile(`1[3-9]\d{9}`).FindString(logs); m != "" {
		t.Errorf("the log contains something shaped like a phone number: %q", m)
	}
}

// The metrics the issue names exist with the callrelay_ prefix and count
// what happened.
func TestMetricsCountWhatHappened(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	c.Call(t, "m-1", callBar("EventRinging", map[string]any{"callID": "C-1"}))
	c.Call(t, "m-1", callBar("EventRinging", map[string]any{"callID": "C-1"}))
	c.Call(t, "m-2", callBar("EventAgentRegainStatus", nil))
	c.Call(t, "m-3", iframeParams(nil))
	c.Call(t, "m-4", map[string]any{"source": "agentCall", "type": "callBarEvent", "params": map[string]any{}})

	// The ack latency is observed just after the ack is written, so it may
	// trail the client's read by a moment.
	var body string
	eventually(t, "the fifth ack latency observation", func() bool {
		_, body = tr.get(t, "/metrics")
		return strings.Contains(body, `callrelay_ack_latency_seconds_count{transport="ws"} 5`)
	})
	for _, want := range []string{
		`callrelay_connections 1`,
		`callrelay_events_received_total{type="callBarEvent"} 3`,
		`callrelay_events_received_total{type="iframeParams"} 1`,
		`callrelay_events_received_total{type="invalid"} 1`,
		`callrelay_events_published_total{kind="callBarEvent"} 2`,
		`callrelay_events_published_total{kind="iframeParams"} 1`,
		`callrelay_events_published_total{kind="rejected"} 1`,
		`callrelay_events_rejected_total{code="missing_message_id"} 1`,
		`callrelay_events_duplicate_total{layer="relay"} 1`,
		`callrelay_unknown_message_ids_total 1`,
		`callrelay_sink_up 1`,
		`callrelay_events_published_total{kind="call"} 2`,
		`callrelay_publish_duration_seconds_count{result="ok"} 6`,
		`callrelay_build_info{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
