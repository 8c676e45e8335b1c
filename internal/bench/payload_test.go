package bench

import (
	"encoding/json"
	"regexp"
	"testing"
)

func TestEstablishedPayload(t *testing.T) {
	idRule := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`) // the protocol's rule
	clock := newCreationClock()
	g := newGenerator("b17", 42, false, clock)
	seen := map[string]bool{}
	var lastCreation int64
	var callID string
	for i := range 20 {
		id, data := g.next(nil)
		if !idRule.MatchString(id) || seen[id] {
			t.Fatalf("id %q is invalid or repeated", id)
		}
		seen[id] = true
		if n := len(data); n < 715 || n > 755 {
			t.Errorf("data is %d bytes, want about 735", n)
		}
		var ev struct {
			Source, Type string
			Params       map[string]any
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("data is not JSON: %v\n%s", err, data)
		}
		if ev.Source != "agentCall" || ev.Type != "callBarEvent" || ev.Params["messageID"] != "EventEstablished" {
			t.Errorf("got %s", data)
		}
		for _, f := range []string{"callID", "creationTime", "companyId", "referenceID", "partyID", "callType",
			"partyRole", "ANI", "DNIS", "thisDN", "otherDN", "thisDNRole", "otherDNRole", "agentID", "agentUUID",
			"province", "city", "firstDistributedQueueUUID", "firstDistributedQueueId", "firstDistributedQueueName",
			"lastDistributedQueueUUID", "lastDistributedQueueId", "lastDistributedQueueName", "attachedData"} {
			if _, ok := ev.Params[f]; !ok {
				t.Errorf("params lack %s", f)
			}
		}
		creation := int64(ev.Params["creationTime"].(float64))
		if creation <= lastCreation {
			t.Errorf("creationTime %d after %d: not increasing", creation, lastCreation)
		}
		lastCreation = creation
		if i > 0 && ev.Params["callID"] != callID {
			t.Errorf("callID changed from %s to %v", callID, ev.Params["callID"])
		}
		callID, _ = ev.Params["callID"].(string)
	}
}

// The mix runs ringing, talk details, established, released, deleted, then
// the next call with a new call id.
func TestLifecycleMix(t *testing.T) {
	g := newGenerator("b3", 1, true, newCreationClock())
	want := []string{"EventRinging", "iframeParams", "EventEstablished", "EventReleased", "EventCallDeleted", "EventRinging"}
	var calls []string
	for i, w := range want {
		_, data := g.next(nil)
		var ev struct {
			Type   string
			Params map[string]any
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("message %d is not JSON: %v\n%s", i, err, data)
		}
		got, call := ev.Params["messageID"], ev.Params["callID"]
		if ev.Type == "iframeParams" {
			got, call = "iframeParams", ev.Params["callId"]
			for _, f := range []string{"partnerId", "uid", "uemail", "email", "sign", "timestamp", "uphone",
				"encryptUphone", "gatewayNumber", "callType", "province", "city", "startTime"} {
				if _, ok := ev.Params[f]; !ok {
					t.Errorf("talk details lack %s", f)
				}
			}
			if s, _ := ev.Params["sign"].(string); len(s) != 32 {
				t.Errorf("sign %q: want 32 hex digits", s)
			}
		}
		if got != w {
			t.Errorf("message %d: got %v, want %s", i, got, w)
		}
		calls = append(calls, call.(string))
	}
	if calls[0] != calls[4] || calls[5] == calls[0] {
		t.Errorf("call ids %v: want one per call", calls)
	}
}

func TestFrame(t *testing.T) {
	g := newGenerator("b1", 0, false, newCreationClock())
	id, data := g.next(nil)
	var f struct {
		Type, ID string
		SeenAt   int64
		Data     json.RawMessage
	}
	b := appendFrame(nil, id, data)
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame is not JSON: %v\n%s", err, b)
	}
	if f.Type != "event" || f.ID != id || f.SeenAt <= 0 || string(f.Data) != string(data) {
		t.Errorf("got %s", b)
	}
}
