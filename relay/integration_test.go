package relay_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/events/schema"
	"github.com/callrelay/callrelay/relay"
)

// MustSchema compiles one of the published JSON Schemas.
func MustSchema(tb testing.TB, name string) *jsonschema.Schema {
	tb.Helper()
	data, err := fs.ReadFile(schema.FS, name)
	if err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
	if err != nil {
		tb.Fatalf("parse %s: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		tb.Fatalf("add %s: %v", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		tb.Fatalf("compile %s: %v", name, err)
	}
	return s
}

func validateAgainst(tb testing.TB, s *jsonschema.Schema, v map[string]any) {
	tb.Helper()
	clean := map[string]any{}
	for k, val := range v {
		if !strings.HasPrefix(k, "_") {
			clean[k] = val
		}
	}
	// Round-trip through JSON so numbers are json.Number-free float64s.
	b, _ := json.Marshal(clean)
	doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err := s.Validate(doc); err != nil {
		tb.Errorf("published message does not match the schema: %v\n%s", err, b)
	}
}

func TestEveryMessageIDLandsOnItsSubject(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	eventSchema := MustSchema(t, "event.schema.json")

	ids := append(events.KnownMessageIDs(), "EventAgentRegainStatus")
	for i, mid := range ids {
		extra := map[string]any{}
		if events.IsTalkEvent(mid) {
			extra["callID"] = fmt.Sprintf("CALL-%02d", i)
			extra["callType"] = "Inbound"
		}
		if mid == events.MsgEstablished {
			for k, v := range map[string]any{
				"province": "Guangdong", "city": "Shenzhen",
				"firstDistributedQueueUUID": "q-uuid-1", "firstDistributedQueueId": "1001", "firstDistributedQueueName": "Sales",
				"lastDistributedQueueUUID": "q-uuid-2", "lastDistributedQueueId": 1002, "lastDistributedQueueName": "VIP",
			} {
				extra[k] = v
			}
		}
		id := fmt.Sprintf("ev-%02d", i)
		if a := c.Call(t, id, callBar(mid, extra)); a.Type != "ack" || a.ID != id || a.Status != relay.StatusPublished {
			t.Fatalf("%s: got %+v, want ack published", mid, a)
		}
	}
	if a := c.Call(t, "talk-1", iframeParams(nil)); a.Type != "ack" {
		t.Fatalf("iframeParams: got %+v, want ack", a)
	}

	// Every message but the call views (one per call, checked in correlate_test.go).
	var got []map[string]any
	for _, m := range tr.published(t, "") {
		if m["_subject"] != "agentcall.default.call" {
			got = append(got, m)
		}
	}
	if len(got) != len(ids)+1 {
		t.Fatalf("got %d messages in the stream, want %d", len(got), len(ids)+1)
	}
	for i, mid := range ids {
		m := got[i]
		t.Run(mid, func(t *testing.T) {
			id := fmt.Sprintf("ev-%02d", i)
			if want := "agentcall.default.callBarEvent." + mid; m["_subject"] != want {
				t.Errorf("subject: got %v, want %s", m["_subject"], want)
			}
			if m["_msgid"] != id || m["id"] != id {
				t.Errorf("ids: got header %v body %v, want %s", m["_msgid"], m["id"], id)
			}
			if m["tenant"] != "default" || m["type"] != "callBarEvent" || m["messageID"] != mid {
				t.Errorf("got tenant %v type %v messageID %v", m["tenant"], m["type"], m["messageID"])
			}
			if m["seenAt"] != seenAt || m["receivedAt"] == nil {
				t.Errorf("times: got seenAt %v receivedAt %v", m["seenAt"], m["receivedAt"])
			}
			params, _ := m["params"].(map[string]any)
			if params["messageID"] != mid || params["companyId"] != "cmp-01" {
				t.Errorf("params not carried verbatim: %v", params)
			}
			if events.IsTalkEvent(mid) {
				if want := fmt.Sprintf("CALL-%02d", i); m["callId"] != want {
					t.Errorf("callId: got %v, want %s", m["callId"], want)
				}
				if m["direction"] != "inbound" {
					t.Errorf("direction: got %v, want inbound", m["direction"])
				}
			} else if _, ok := m["callId"]; ok {
				t.Errorf("agent event has callId %v", m["callId"])
			}
			if mid == events.MsgEstablished {
				q, _ := m["queue"].(map[string]any)
				first, _ := q["first"].(map[string]any)
				last, _ := q["last"].(map[string]any)
				if first["uuid"] != "q-uuid-1" || first["id"] != "1001" || first["name"] != "Sales" ||
					last["uuid"] != "q-uuid-2" || last["id"] != "1002" || last["name"] != "VIP" {
					t.Errorf("queue: got %v", m["queue"])
				}
				loc, _ := m["location"].(map[string]any)
				if loc["province"] != "Guangdong" || loc["city"] != "Shenzhen" {
					t.Errorf("location: got %v", m["location"])
				}
			} else if _, ok := m["queue"]; ok {
				t.Errorf("queue on %s: %v", mid, m["queue"])
			}
			if known := events.IsKnownMessageID(mid); known == (m["unknownMessageID"] == true) {
				t.Errorf("unknownMessageID: got %v for known=%v", m["unknownMessageID"], known)
			}
			validateAgainst(t, eventSchema, m)
		})
	}
	talk := got[len(got)-1]
	if talk["_subject"] != "agentcall.default.iframeParams" || talk["callId"] != "CALL-0001" || talk["direction"] != "inbound" {
		t.Errorf("iframeParams: got subject %v callId %v direction %v", talk["_subject"], talk["callId"], talk["direction"])
	}
	if agent, _ := talk["agent"].(map[string]any); agent["email"] != "agent01@example.com" {
		t.Errorf("agent: got %v, want the talk details' email", talk["agent"])
	}
	validateAgainst(t, eventSchema, talk)
}

func TestDuplicateIDIsAckedDuplicateAndPublishedOnce(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	ev := callBar(events.MsgRinging, map[string]any{"callID": "CALL-9"})
	if a := c.Call(t, "dup-1", ev); a.Status != relay.StatusPublished {
		t.Fatalf("first: got %+v, want published", a)
	}
	if a := c.Call(t, "dup-1", ev); a.Type != "ack" || a.Status != relay.StatusDuplicate {
		t.Fatalf("second on the same connection: got %+v, want ack duplicate", a)
	}
	// The same id through the other transport (sendBeacon's path).
	resp, body := tr.post(t, `{"events":[`+string(eventFrame("dup-1", ev))+`]}`, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"duplicate"`) {
		t.Fatalf("POST: got %d %s, want a duplicate ack", resp.StatusCode, body)
	}
	// And from a second connection.
	if a := tr.MustDial(t).Call(t, "dup-1", ev); a.Status != relay.StatusDuplicate {
		t.Fatalf("other connection: got %+v, want duplicate", a)
	}
	if n := len(tr.published(t, "agentcall.default.callBarEvent.EventRinging")); n != 1 {
		t.Fatalf("got %d copies in the stream, want 1", n)
	}
}

func TestEventsOfOneConnectionArePublishedInOrder(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	const n = 200
	for i := 0; i < n; i++ { // all sent before any answer is read
		// Distinct creationTimes: the same vendor event twice would be one event.
		c.SendEvent(t, fmt.Sprintf("ord-%03d", i), callBar(events.MsgAgentReady, map[string]any{"agentID": "1001", "creationTime": 1763717400000 + i}))
	}
	for i := 0; i < n; i++ {
		if a := c.Read(t); a.ID != fmt.Sprintf("ord-%03d", i) || a.Type != "ack" {
			t.Fatalf("answer %d: got %+v, want ack of ord-%03d", i, a, i)
		}
	}
	got := tr.published(t, "")
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if want := fmt.Sprintf("ord-%03d", i); m["id"] != want {
			t.Fatalf("stream position %d: got %v, want %s", i, m["id"], want)
		}
	}
}
