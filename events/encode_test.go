package events_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/callrelay/callrelay/events"
)

// reflectJSON encodes v (a pointer to a copy of the struct as a type
// without the MarshalJSON method) with encoding/json's reflection and
// decodes it back to a generic value.
func reflectJSON(tb testing.TB, v any) any {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

type (
	plainEvent events.Event
	plainCall  events.Call
)

func decodeAny(tb testing.TB, b []byte) any {
	tb.Helper()
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatalf("not JSON: %v\n%s", err, b)
	}
	return out
}

// The hand-written encoders give what encoding/json's reflection gives.
func TestAppendJSONMatchesReflection(t *testing.T) {
	seen := time.Date(2026, 11, 21, 9, 30, 0, 123456789, time.FixedZone("x", 8*3600))
	rec := events.NewCallRecord("C-1")
	for _, data := range []string{
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventRinging","callID":"C-1","creationTime":1763717400000,"partyID":"p<1>","callType":"Inbound"}}`,
		`{"source":"agentCall","type":"iframeParams","params":{"callId":"C-1","uphone":"158****2496","uemail":"a&b@example.com","partnerId":42,"email":"agent\u2028x@example.com","city":"\u6df1\u5733","callType":2}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventEstablished","callID":"C-1","creationTime":1763717405000,"province":"Guangdong","city":"Shenzhen","firstDistributedQueueUUID":"q1","firstDistributedQueueId":1,"firstDistributedQueueName":"Sales \"A\"","lastDistributedQueueName":"VIP\ttab"}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventReleased","callID":"C-1","creationTime":1763717465001}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventAgentRegainStatus","agentID":"7"}}`,
	} {
		m, err := events.Parse([]byte(data), events.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ev := events.NewEvent(m, "id-1", "acme", "sub\x01ject", seen, seen.Add(time.Millisecond))
		if m.Type == events.TypeIframeParams {
			ev.Signature = events.SignatureVerified
		}
		if m.CallID != "" {
			rec.Apply(events.CallInput{Msg: m, SeenAt: seen})
			rec.Enrich(ev)
		}
		if got, want := decodeAny(t, ev.AppendJSON(nil)), reflectJSON(t, (*plainEvent)(ev)); !reflect.DeepEqual(got, want) {
			t.Errorf("event:\n got %v\nwant %v", got, want)
		}
		rec.Revision++
		rec.Updated = seen.UnixMilli()
		view := rec.View("acme")
		if got, want := decodeAny(t, view.AppendJSON(nil)), reflectJSON(t, (*plainCall)(view)); !reflect.DeepEqual(got, want) {
			t.Errorf("view:\n got %v\nwant %v", got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "<&>", "\u2028\u2029", "\xff\xfe", "tab\tnl\n\x00", "中文"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := events.Agent{Subject: s}
		ev := events.Event{ID: "x", Agent: &a}
		b := ev.AppendJSON(nil)
		var back struct {
			Agent struct {
				Subject string `json:"subject"`
			} `json:"agent"`
		}
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("not JSON: %v: %q", err, b)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back.Agent.Subject != wantBack {
			t.Fatalf("got %q, want %q", back.Agent.Subject, wantBack)
		}
	})
}
