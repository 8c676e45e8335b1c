package events_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/callrelay/callrelay/events"
)

// The five messages of one inbound call, with creationTimes in the true
// order: ringing at T, talk details at T+1s, established at T+5s, released at
// T+65s, deleted at T+66s.
const callT0 = int64(1763717400000)

func callMessages(tb testing.TB) map[string]*events.Message {
	tb.Helper()
	raw := map[string]string{
		"ringing": fmt.Sprintf(`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventRinging","callID":"CALL-1","callType":"Inbound","creationTime":%d,"companyId":"cmp","partyID":"p-1","agentID":"1001"}}`, callT0),
		"talk":    `{"source":"agentCall","type":"iframeParams","params":{"callId":"CALL-1","callType":2,"partnerId":"P-1","uid":"u-1","uphone":"158****2496","encryptUphone":"ENC","uemail":"c@example.com","email":"agent@example.com","sign":"s1","timestamp":1763717401000,"province":"Guangdong","city":"Shenzhen"}}`,
		"established": fmt.Sprintf(`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventEstablished","callID":"CALL-1","callType":"Inbound","creationTime":%d,"companyId":"cmp","partyID":"p-1",`+
			`"province":"Guangdong","city":"Shenzhen","firstDistributedQueueUUID":"q1","firstDistributedQueueId":"1","firstDistributedQueueName":"Sales","lastDistributedQueueUUID":"q2","lastDistributedQueueId":"2","lastDistributedQueueName":"VIP"}}`, callT0+5000),
		"released": fmt.Sprintf(`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventReleased","callID":"CALL-1","creationTime":%d,"companyId":"cmp","partyID":"p-1"}}`, callT0+65000),
		"deleted":  fmt.Sprintf(`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventCallDeleted","callID":"CALL-1","creationTime":%d,"companyId":"cmp"}}`, callT0+66000),
	}
	ms := map[string]*events.Message{}
	for k, v := range raw {
		m, err := events.Parse([]byte(v), events.Options{})
		if err != nil {
			tb.Fatalf("%s: %v", k, err)
		}
		ms[k] = m
	}
	return ms
}

// permutations returns every order of s.
func permutations(s []string) [][]string {
	if len(s) <= 1 {
		return [][]string{append([]string(nil), s...)}
	}
	var out [][]string
	for i := range s {
		rest := append(append([]string(nil), s[:i]...), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{s[i]}, p...))
		}
	}
	return out
}

func ptime(ms int64) *time.Time { t := time.UnixMilli(ms).UTC(); return &t }
func pfloat(f float64) *float64 { return &f }

// Every order of the five messages gives the same, right view; phone-bar
// events applied after the talk details are enriched with them; no state
// moves backwards; the sides meet exactly once.
func TestCallApplyEveryOrder(t *testing.T) {
	ms := callMessages(t)
	want := &events.Call{
		Tenant: "acme", CallID: "CALL-1", State: events.CallEnded, Direction: events.DirectionInbound,
		Agent:     &events.Agent{Email: "agent@example.com", ID: "1001"},
		Customer:  &events.Customer{PartnerID: "P-1", UID: "u-1", Uphone: "158****2496", EncryptUphone: "ENC", Uemail: "c@example.com"},
		Queue:     &events.Queue{First: events.QueueRef{UUID: "q1", ID: "1", Name: "Sales"}, Last: events.QueueRef{UUID: "q2", ID: "2", Name: "VIP"}},
		Location:  &events.Location{Province: "Guangdong", City: "Shenzhen"},
		RingingAt: ptime(callT0), EstablishedAt: ptime(callT0 + 5000), ReleasedAt: ptime(callT0 + 65000), EndedAt: ptime(callT0 + 66000),
		RingSeconds: pfloat(5), TalkSeconds: pfloat(60), TalkDetails: true,
		MessageIDs: []string{"EventRinging", "EventEstablished", "EventReleased", "EventCallDeleted"},
		Parties:    []string{"p-1"},
	}
	orders := permutations([]string{"ringing", "talk", "established", "released", "deleted"})
	if len(orders) != 120 {
		t.Fatalf("got %d permutations, want 120", len(orders))
	}
	for _, order := range orders {
		rec := events.NewCallRecord("CALL-1")
		talkSeen, met, rings, talks := false, 0, 0, 0
		for _, name := range order {
			m := ms[name]
			from := rec.State
			ch := rec.Apply(events.CallInput{Msg: m, SeenAt: time.UnixMilli(callT0)})
			if !ch.Changed || ch.Repeat {
				t.Fatalf("%v: %s: got changed=%v repeat=%v, want a change", order, name, ch.Changed, ch.Repeat)
			}
			if rec.State.Rank() < from.Rank() {
				t.Fatalf("%v: %s moved the state back from %s to %s", order, name, from, rec.State)
			}
			if ch.Met {
				met++
				if ch.TalkFirst != (order[0] == "talk") {
					t.Errorf("%v: talkFirst %v", order, ch.TalkFirst)
				}
			}
			if ch.RingKnown {
				rings++
			}
			if ch.TalkKnown {
				talks++
			}
			talkSeen = talkSeen || name == "talk"
			e := events.NewEvent(m, "id-"+name, "acme", "", time.UnixMilli(callT0), time.UnixMilli(callT0))
			rec.Enrich(e)
			if m.Type == events.TypeCallBarEvent && (e.Talk != nil) != talkSeen {
				t.Errorf("%v: %s: talk present %v, want %v", order, name, e.Talk != nil, talkSeen)
			}
			if e.Talk != nil && string(e.Talk) != string(ms["talk"].Params) {
				t.Errorf("%v: %s: talk is not the talk details' params", order, name)
			}
			if rec.Queue != nil && e.Queue == nil {
				t.Errorf("%v: %s: the known queue does not ride on the event", order, name)
			}
		}
		if met != 1 || rings != 1 || talks != 1 {
			t.Errorf("%v: met %d, ring observed %d, talk observed %d times; want 1 each", order, met, rings, talks)
		}
		got := rec.View("acme")
		got.Revision, got.UpdatedAt = 0, time.Time{}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Fatalf("%v:\n got %s\nwant %s", order, g, w)
		}
	}
}

func TestCallApplyIsIdempotent(t *testing.T) {
	ms := callMessages(t)
	rec := events.NewCallRecord("CALL-1")
	for _, name := range []string{"ringing", "talk", "established", "released", "deleted"} {
		rec.Apply(events.CallInput{Msg: ms[name]})
		if ch := rec.Apply(events.CallInput{Msg: ms[name]}); ch.Changed || ch.Met || ch.RingKnown || ch.TalkKnown {
			t.Errorf("%s applied twice: got %+v, want no change", name, ch)
		}
	}
}

func TestCallRepeatedTalkDetails(t *testing.T) {
	parse := func(params string) *events.Message {
		m, err := events.Parse([]byte(`{"source":"agentCall","type":"iframeParams","params":`+params+`}`), events.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	rec := events.NewCallRecord("C")
	steps := []struct {
		params string
		repeat bool
	}{
		{`{"callId":"C","uid":"u-1","sign":"a","timestamp":1}`, false},
		{`{"callId":"C","uid":"u-1","sign":"a","timestamp":1}`, true},
		{`{ "uid" : "u-1", "callId":"C", "sign":"b", "timestamp":2}`, true}, // re-signed, reordered
		{`{"callId":"C","uid":"u-2"}`, false},
		{`{"callId":"C","uid":"u-1"}`, false}, // back to the first: a change again
	}
	for i, s := range steps {
		ch := rec.Apply(events.CallInput{Msg: parse(s.params)})
		if ch.Repeat != s.repeat || ch.Changed == s.repeat {
			t.Errorf("step %d: got repeat=%v changed=%v, want repeat=%v", i, ch.Repeat, ch.Changed, s.repeat)
		}
	}
	if rec.Customer.UID != "u-1" {
		t.Errorf("customer uid: got %q, want u-1", rec.Customer.UID)
	}
}

// Party events are recorded without moving the state.
func TestCallPartyEvents(t *testing.T) {
	rec := events.NewCallRecord("C")
	for _, p := range []string{`{"messageID":"EventEstablished","callID":"C","creationTime":10}`,
		`{"messageID":"EventPartyChanged","callID":"C","creationTime":20,"partyID":"p-2"}`,
		`{"messageID":"EventPartyDeleted","callID":"C","creationTime":30,"partyID":"p-1"}`} {
		m, err := events.Parse([]byte(`{"source":"agentCall","type":"callBarEvent","params":`+p+`}`), events.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rec.Apply(events.CallInput{Msg: m})
	}
	v := rec.View("t")
	if v.State != events.CallEstablished || !reflect.DeepEqual(v.Parties, []string{"p-1", "p-2"}) ||
		!reflect.DeepEqual(v.MessageIDs, []string{"EventEstablished", "EventPartyChanged", "EventPartyDeleted"}) {
		t.Errorf("got state %s parties %v messageIDs %v", v.State, v.Parties, v.MessageIDs)
	}
}

func TestContentKey(t *testing.T) {
	key := func(params string) string {
		m, err := events.Parse([]byte(`{"source":"agentCall","type":"callBarEvent","params":`+params+`}`), events.Options{})
		if err != nil {
			t.Fatal(err)
		}
		k, ok := events.ContentKey("acme", m)
		if !ok {
			return ""
		}
		return k.String()
	}
	base := key(`{"messageID":"EventRinging","callID":"C","companyId":"cmp","creationTime":1}`)
	if base == "" {
		t.Fatal("a complete talk event has no key")
	}
	tests := []struct {
		name, params string
		same, none   bool
	}{
		{"same content, other field order", `{"creationTime":1,"companyId":"cmp","callID":"C","messageID":"EventRinging"}`, true, false},
		{"numbers as strings", `{"messageID":"EventRinging","callID":"C","companyId":"cmp","creationTime":"1"}`, true, false},
		{"other creationTime", `{"messageID":"EventRinging","callID":"C","companyId":"cmp","creationTime":2}`, false, false},
		{"other party", `{"messageID":"EventRinging","callID":"C","companyId":"cmp","creationTime":1,"partyID":"p"}`, false, false},
		{"other device", `{"messageID":"EventRinging","callID":"C","companyId":"cmp","creationTime":1,"thisDN":"8001"}`, false, false},
		{"no companyId", `{"messageID":"EventRinging","callID":"C","creationTime":1}`, false, true},
		{"no creationTime", `{"messageID":"EventRinging","callID":"C","companyId":"cmp"}`, false, true},
		{"talk event without callID", `{"messageID":"EventRinging","companyId":"cmp","creationTime":1}`, false, true},
		{"agent event without agent", `{"messageID":"EventAgentReady","companyId":"cmp","creationTime":1}`, false, true},
		{"agent event with agentID", `{"messageID":"EventAgentReady","companyId":"cmp","creationTime":1,"agentID":"7"}`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := key(tt.params)
			if (k == "") != tt.none || (k == base) != tt.same {
				t.Errorf("got %q (base %q), want same=%v none=%v", k, base, tt.same, tt.none)
			}
		})
	}
}

func TestAgentRecordApply(t *testing.T) {
	parse := func(mid string, ct int) *events.Message {
		m, err := events.Parse([]byte(fmt.Sprintf(`{"source":"agentCall","type":"callBarEvent","params":{"messageID":%q,"creationTime":%d,"agentID":"7"}}`, mid, ct)), events.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var r events.AgentRecord
	steps := []struct {
		mid     string
		ct      int
		changed bool
		want    events.AgentState
	}{
		{"EventAgentConnectionChanged", 5, true, events.AgentLoggedIn},
		{"EventAgentReady", 10, true, events.AgentReady},
		{"EventAgentNotReady", 8, false, events.AgentReady}, // older: ignored
		{"EventAgentConnectionChanged", 12, false, events.AgentReady},
		{"EventUnregistered", 20, true, events.AgentUnreachable},
		{"EventAgentLogout", 30, true, events.AgentLoggedOut},
	}
	for i, s := range steps {
		if got := r.Apply(parse(s.mid, s.ct), time.Time{}); got != s.changed || r.State != s.want {
			t.Errorf("step %d %s: got changed=%v state %s, want %v %s", i, s.mid, got, r.State, s.changed, s.want)
		}
	}
}

func BenchmarkCallApply(b *testing.B) {
	ms := callMessages(b)
	order := []string{"ringing", "talk", "established", "released", "deleted"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rec := events.NewCallRecord("CALL-1")
		for _, n := range order {
			rec.Apply(events.CallInput{Msg: ms[n]})
		}
	}
}
