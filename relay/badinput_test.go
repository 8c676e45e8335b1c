package relay_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/callrelay/callrelay/relay"
)

// Every bad input gets its nack code (retry:false) and, when it carries an
// id, shows up on the rejected subject with its reason.
func TestBadInputsAreNackedAndRecorded(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.StrictMessageIDs = true })
	c := tr.MustDial(t)
	rejectedSchema := MustSchema(t, "rejected.schema.json")

	frame := func(id string, data string) []byte {
		return []byte(`{"type":"event","id":"` + id + `","seenAt":"` + seenAt + `","data":` + data + `}`)
	}
	cases := []struct {
		name     string
		frame    []byte
		wantID   string
		wantCode string
		recorded bool
	}{
		{"not JSON", []byte(`this is not json`), "", relay.CodeInvalidFrame, false},
		{"frame is an array", []byte(`[1,2,3]`), "", relay.CodeInvalidFrame, false},
		{"unknown frame type", []byte(`{"type":"subscribe","id":"b-0"}`), "b-0", relay.CodeInvalidFrame, false},
		{"id missing", []byte(`{"type":"event","seenAt":"` + seenAt + `","data":{}}`), "", relay.CodeInvalidID, false},
		{"id with a space", frame("bad id", `{}`), "bad id", relay.CodeInvalidID, false},
		{"seenAt missing", []byte(`{"type":"event","id":"b-1","data":{"source":"agentCall"}}`), "b-1", relay.CodeInvalidSeenAt, true},
		{"data missing", []byte(`{"type":"event","id":"b-2","seenAt":"` + seenAt + `"}`), "b-2", relay.CodeInvalidFrame, true},
		{"data not an object", frame("b-3", `"just a string"`), "b-3", "not_object", true},
		{"data an array", frame("b-4", `[{"source":"agentCall"}]`), "b-4", "not_object", true},
		{"source missing", frame("b-5", `{"type":"callBarEvent","params":{"messageID":"EventRinging"}}`), "b-5", "invalid_source", true},
		{"source not agentCall", frame("b-6", `{"source":"crm","type":"callBarEvent","params":{"messageID":"EventRinging"}}`), "b-6", "invalid_source", true},
		{"unknown type", frame("b-7", `{"source":"agentCall","type":"IFRAME_READY"}`), "b-7", "invalid_type", true},
		{"params not an object", frame("b-8", `{"source":"agentCall","type":"callBarEvent","params":"EventRinging"}`), "b-8", "invalid_params", true},
		{"callBarEvent without messageID", frame("b-9", `{"source":"agentCall","type":"callBarEvent","params":{"callID":"C-1"}}`), "b-9", "missing_message_id", true},
		{"messageID not a token", frame("b-10", `{"source":"agentCall","type":"callBarEvent","params":{"messageID":"Event.Ringing"}}`), "b-10", "invalid_message_id", true},
		{"unknown messageID in strict mode", frame("b-11", `{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventAgentRegainStatus"}}`), "b-11", "unknown_message_id", true},
		{"field of the wrong type", frame("b-12", `{"source":"agentCall","type":"iframeParams","params":{"uphone":13800138000}}`), "b-12", "invalid_field", true},
		{"invalid UTF-8", frame("b-13", "{\"source\":\"agentCall\",\"type\":\"iframeParams\",\"params\":{\"city\":\"\xff\xfe\"}}"), "b-13", "invalid_utf8", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.SendRaw(t, tc.frame)
			a := c.Read(t)
			if a.Type != "nack" || a.Code != tc.wantCode || a.Retry || a.ID != tc.wantID || a.Message == "" {
				t.Fatalf("got %+v, want nack %s retry:false id %q with a message", a, tc.wantCode, tc.wantID)
			}
		})
	}
	// The connection survived all of it.
	if a := c.Call(t, "good-after-bad", callBar("EventAgentReady", nil)); a.Status != relay.StatusPublished {
		t.Fatalf("after bad input: got %+v, want published", a)
	}

	rejected := map[string]map[string]any{}
	for _, m := range tr.published(t, "agentcall.default.rejected") {
		rejected[m["id"].(string)] = m
		validateAgainst(t, rejectedSchema, m)
	}
	for _, tc := range cases {
		m, ok := rejected[tc.wantID]
		if tc.recorded != ok {
			t.Errorf("%s: on rejected = %v, want %v", tc.name, ok, tc.recorded)
			continue
		}
		if ok && (m["code"] != tc.wantCode || m["via"] != "ws" || m["message"] == "") {
			t.Errorf("%s: rejected message %v, want code %s via ws", tc.name, m, tc.wantCode)
		}
	}
	if m := rejected["b-12"]; m != nil {
		if data, _ := m["data"].(map[string]any); data["source"] != "agentCall" {
			t.Errorf("rejected message should carry the data as received, got %v", m["data"])
		}
	}
}

func TestBadFramesCloseWithReason(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.MaxMessageBytes = 1024; c.MaxBatchBytes = 4096 })

	t.Run("frame over the limit", func(t *testing.T) {
		c := tr.MustDial(t)
		big := eventFrame("big-1", iframeParams(map[string]any{"note": strings.Repeat("x", 2048)}))
		c.SendRaw(t, big)
		ce := c.ReadClose(t)
		if ce.Code != websocket.CloseMessageTooBig || !strings.Contains(ce.Text, "1024") {
			t.Fatalf("got close %d %q, want 1009 naming the limit", ce.Code, ce.Text)
		}
	})
	t.Run("binary frame", func(t *testing.T) {
		c := tr.MustDial(t)
		if err := c.ws.WriteMessage(websocket.BinaryMessage, eventFrame("bin-1", callBar("EventAgentReady", nil))); err != nil {
			t.Fatal(err)
		}
		ce := c.ReadClose(t)
		if ce.Code != websocket.CloseUnsupportedData || !strings.Contains(ce.Text, "binary") {
			t.Fatalf("got close %d %q, want 1003 about binary frames", ce.Code, ce.Text)
		}
	})
	if n := len(tr.published(t, "")); n != 0 {
		t.Fatalf("got %d published messages, want 0", n)
	}
}

func TestOriginCheck(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) {
		c.AllowedOrigins = []string{"https://crm.example.com", "https://*.callcentre.example"}
	})
	cases := []struct {
		origin string
		ok     bool
	}{
		{tr.base, true}, // same origin
		{"https://crm.example.com", true},
		{"https://eu.callcentre.example", true},
		{"https://callcentre.example", false},
		{"https://evil-callcentre.example", false},
		{"https://crm.example.com.evil.test", false},
		{"http://crm.example.com", false},
		{"https://crm.example.com:8443", false},
		{"null", false},
		{"", false}, // no Origin: not allowed unless configured
	}
	for _, tc := range cases {
		t.Run("ws "+tc.origin, func(t *testing.T) {
			c, resp, err := tr.dial(tc.origin)
			if tc.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				_ = c.ws.Close()
				return
			}
			if err == nil {
				_ = c.ws.Close()
				t.Fatal("got a connection, want 403 before the upgrade")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %v, want HTTP 403", resp)
			}
			var body struct{ Error struct{ Code string } }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if body.Error.Code != relay.CodeOriginNotAllowed {
				t.Fatalf("got code %q, want %s", body.Error.Code, relay.CodeOriginNotAllowed)
			}
		})
		t.Run("post "+tc.origin, func(t *testing.T) {
			resp, _ := tr.post(t, `{"events":[]}`, map[string]string{"Origin": tc.origin})
			if got := resp.StatusCode == http.StatusOK; got != tc.ok {
				t.Fatalf("got status %d, want ok=%v", resp.StatusCode, tc.ok)
			}
		})
	}

	open := MustRelay(t, func(c *relay.Config) { c.AllowNoOrigin = true })
	if c, _, err := open.dial(""); err != nil {
		t.Fatalf("with AllowNoOrigin a request without Origin should pass: %v", err)
	} else {
		_ = c.ws.Close()
	}
}
