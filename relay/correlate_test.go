package relay_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/relay"
)

// perm returns every order of s.
func perm(s []string) [][]string {
	if len(s) <= 1 {
		return [][]string{append([]string(nil), s...)}
	}
	var out [][]string
	for i := range s {
		rest := append(append([]string(nil), s[:i]...), s[i+1:]...)
		for _, p := range perm(rest) {
			out = append(out, append([]string{s[i]}, p...))
		}
	}
	return out
}

// checkCall checks what the stream holds for one call sent in order: each
// event once; phone-bar events after the talk details carry them, and after
// EventEstablished the queue; views with increasing revisions whose state
// never moves back, the last one right.
func checkCall(t *testing.T, callID string, order []string, evs []map[string]any, views []callView) {
	t.Helper()
	if len(evs) != len(order) {
		t.Errorf("%s %v: got %d events, want %d", callID, order, len(evs), len(order))
		return
	}
	talkSeen, estSeen := false, false
	for i, e := range evs {
		name := order[i]
		if !strings.HasSuffix(e["id"].(string), "-"+name) {
			t.Errorf("%s %v: event %d is %v, want %s", callID, order, i, e["id"], name)
		}
		if e["type"] == "callBarEvent" {
			_, hasTalk := e["talk"]
			if hasTalk != talkSeen {
				t.Errorf("%s %v: %s carries talk=%v, want %v", callID, order, name, hasTalk, talkSeen)
			}
		}
		estSeen = estSeen || name == "established"
		if _, hasQueue := e["queue"]; hasQueue != estSeen {
			t.Errorf("%s %v: %s carries queue=%v, want %v", callID, order, name, hasQueue, estSeen)
		}
		talkSeen = talkSeen || name == "talk"
	}
	if len(views) != len(order) {
		t.Errorf("%s %v: got %d views, want %d (one per change)", callID, order, len(views), len(order))
	}
	rank := func(s string) int { return events.CallState(s).Rank() }
	for i := 1; i < len(views); i++ {
		if views[i].Revision <= views[i-1].Revision {
			t.Errorf("%s %v: revision %d after %d", callID, order, views[i].Revision, views[i-1].Revision)
		}
		if rank(views[i].State) < rank(views[i-1].State) {
			t.Errorf("%s %v: state moved back from %s to %s", callID, order, views[i-1].State, views[i].State)
		}
	}
	if len(views) > 0 {
		if got, want := final(views[len(views)-1]), wantFinal(callID); got != want {
			t.Errorf("%s %v: final view\n got %s\nwant %s", callID, order, got, want)
		}
	}
}

// byCall groups the stream's events and views by call id.
func (tr *testRelay) byCall(t *testing.T) (map[string][]map[string]any, map[string][]callView) {
	t.Helper()
	evs := map[string][]map[string]any{}
	for _, m := range tr.published(t, "") {
		if m["_subject"] != "agentcall.default.call" {
			id, _ := m["callId"].(string)
			evs[id] = append(evs[id], m)
		}
	}
	views := map[string][]callView{}
	for _, v := range tr.views(t) {
		views[v.CallID] = append(views[v.CallID], v)
	}
	return evs, views
}

// All 120 orders of one call's five messages, through the WebSocket and
// JetStream, each order on its own call: the same right view at the end.
func TestCallViewEveryOrderThroughTheRelay(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	callSchema := MustSchema(t, "call.schema.json")
	orders := perm(stepOrder)
	for i, order := range orders {
		callID := fmt.Sprintf("PERM-%03d", i)
		steps := callSteps(callID)
		for _, name := range order {
			if a := c.Call(t, callID+"-"+name, steps[name]); a.Type != "ack" || a.Status != relay.StatusPublished {
				t.Fatalf("%s %s: got %+v, want ack published", callID, name, a)
			}
		}
	}
	evs, views := tr.byCall(t)
	for i, order := range orders {
		callID := fmt.Sprintf("PERM-%03d", i)
		checkCall(t, callID, order, evs[callID], views[callID])
	}
	for _, m := range tr.published(t, "agentcall.default.call") {
		validateAgainst(t, callSchema, m)
	}
	_, body := tr.get(t, "/metrics")
	for _, want := range []string{
		`callrelay_correlation_total{result="matched"} 120`,
		`callrelay_correlation_total{result="talk_first"} 24`,
		`callrelay_correlation_total{result="event_first"} 96`,
		`callrelay_calls_total{direction="inbound"} 72`, // orders whose first message carries callType: ringing, talk, established
		`callrelay_calls_total{direction="unknown"} 48`,
		`callrelay_calls_active{state="ended"} 120`,
		`callrelay_ring_duration_seconds_count{direction="inbound"} 120`,
		`callrelay_talk_duration_seconds_count{direction="inbound"} 120`,
		`callrelay_events_published_total{kind="call"} 600`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRepeatedTalkDetailsArePublishedOnce(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	steps := []struct {
		id     string
		extra  map[string]any
		status string
	}{
		{"t-1", nil, relay.StatusPublished},
		{"t-2", nil, relay.StatusDuplicate}, // identical
		{"t-3", map[string]any{"sign": "0000", "timestamp": 1763717409999}, relay.StatusDuplicate}, // re-signed only
		{"t-4", map[string]any{"uid": "u-456"}, relay.StatusPublished},                             // changed
		{"t-5", map[string]any{"uid": "u-456"}, relay.StatusDuplicate},
		{"t-6", nil, relay.StatusPublished}, // changed back
	}
	for _, s := range steps {
		if a := c.Call(t, s.id, iframeParams(s.extra)); a.Type != "ack" || a.Status != s.status {
			t.Fatalf("%s: got %+v, want ack %s", s.id, a, s.status)
		}
	}
	got := tr.published(t, "agentcall.default.iframeParams")
	var ids []string
	for _, m := range got {
		ids = append(ids, m["id"].(string))
	}
	if strings.Join(ids, ",") != "t-1,t-4,t-6" {
		t.Errorf("published iframeParams: got %v, want t-1,t-4,t-6", ids)
	}
	if n := len(tr.views(t)); n != 3 {
		t.Errorf("got %d call views, want 3", n)
	}
	_, body := tr.get(t, "/metrics")
	if !strings.Contains(body, "callrelay_iframe_params_suppressed_total 3") {
		t.Errorf("metrics lack callrelay_iframe_params_suppressed_total 3")
	}
}

// Two tabs of one agent: two hooks, two connections, two ids, one vendor event.
func TestSameVendorEventFromTwoHooksIsPublishedOnce(t *testing.T) {
	tr := MustRelay(t)
	tab1, tab2 := tr.MustDial(t), tr.MustDial(t)
	ev := callBar("EventRinging", map[string]any{"callID": "TABS-1", "partyID": "p-1"})
	if a := tab1.Call(t, "tab1-ev", ev); a.Status != relay.StatusPublished {
		t.Fatalf("tab 1: got %+v, want published", a)
	}
	if a := tab2.Call(t, "tab2-ev", ev); a.Type != "ack" || a.Status != relay.StatusDuplicate {
		t.Fatalf("tab 2: got %+v, want ack duplicate", a)
	}
	// The same event without the vendor's identity is never merged.
	bare := map[string]any{"source": "agentCall", "type": "callBarEvent", "params": map[string]any{"messageID": "EventRinging", "callID": "TABS-2"}}
	for _, id := range []string{"tab1-bare", "tab2-bare"} {
		if a := tab1.Call(t, id, bare); a.Status != relay.StatusPublished {
			t.Fatalf("%s: got %+v, want published", id, a)
		}
	}
	if n := len(tr.published(t, "agentcall.default.callBarEvent.EventRinging")); n != 3 {
		t.Errorf("got %d EventRinging in the stream, want 3", n)
	}
	_, body := tr.get(t, "/metrics")
	if !strings.Contains(body, "callrelay_content_duplicates_total 1") {
		t.Errorf("metrics lack callrelay_content_duplicates_total 1")
	}
}

// Agent-state events keep one state per agent, counted in callrelay_agents.
func TestAgentStatesAreCounted(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	send := []struct {
		agent, mid string
		at         int
	}{
		{"1001", "EventAgentLogin", 1}, {"1001", "EventAgentReady", 2},
		{"1002", "EventAgentLogin", 1}, {"1002", "EventAgentNotReady", 3},
		{"1003", "EventAgentReady", 5}, {"1003", "EventAgentNotReady", 4}, // older: ignored
		{"1004", "EventUnregistered", 1},
	}
	for i, s := range send {
		c.Call(t, fmt.Sprintf("ag-%d", i), callBar(s.mid, map[string]any{"agentID": s.agent, "creationTime": t0 + s.at}))
	}
	_, body := tr.get(t, "/metrics")
	for _, want := range []string{
		`callrelay_agents{state="ready"} 2`, `callrelay_agents{state="not_ready"} 1`,
		`callrelay_agents{state="logged_in"} 0`, `callrelay_agents{state="unreachable"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// The cap evicts the oldest calls (counted, and unmatched when their sides
// never met); expiry removes calls without counting an eviction.
func TestCallStateCapAndExpiry(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	mem := correlate.NewMemory(correlate.MemoryConfig{MaxCalls: 3, EndedTTL: time.Minute, IdleTTL: time.Hour})
	mem.SetClock(clock)
	tr2 := mustReplica(t, MustNATS(t), func(*nats.Conn) correlate.State { return mem })
	c := tr2.MustDial(t)
	for i := 0; i < 5; i++ {
		advance(time.Second)
		c.Call(t, fmt.Sprintf("cap-%d", i), callBar("EventRinging", map[string]any{"callID": fmt.Sprintf("CAP-%d", i)}))
	}
	if calls, _ := mem.Len(); calls != 3 {
		t.Errorf("got %d calls held, want 3 (the cap)", calls)
	}
	// End one call: it expires after the ended TTL, the others after the idle TTL.
	c.Call(t, "cap-end", callBar("EventCallDeleted", map[string]any{"callID": "CAP-4"}))
	metrics := func(want ...string) {
		t.Helper()
		_, body := tr2.get(t, "/metrics")
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("metrics lack %s", w)
			}
		}
	}
	metrics(`callrelay_state_evictions_total{kind="call"} 2`, `callrelay_correlation_total{result="unmatched"} 2`,
		`callrelay_calls_active{state="ringing"} 2`, `callrelay_calls_active{state="ended"} 1`)
	advance(2 * time.Minute)
	mem.Expire()
	metrics(`callrelay_calls_active{state="ended"} 0`, `callrelay_calls_active{state="ringing"} 2`, `callrelay_state_evictions_total{kind="call"} 2`)
	advance(time.Hour)
	mem.Expire()
	metrics(`callrelay_calls_active{state="ringing"} 0`, `callrelay_correlation_total{result="unmatched"} 5`, `callrelay_state_evictions_total{kind="call"} 2`)
	if calls, _ := mem.Len(); calls != 0 {
		t.Errorf("got %d calls after expiry, want 0", calls)
	}
}

// Two replicas sharing one NATS and its KV state: a call whose events
// alternate between them is published once per event and ends right; the
// same vendor event reaching the other replica from another tab is a
// duplicate.
func TestSharedStateAcrossTwoReplicas(t *testing.T) {
	ns := MustNATS(t)
	a, b := MustRelayOn(t, ns, true), MustRelayOn(t, ns, true)
	ca, cb := a.MustDial(t), b.MustDial(t)
	steps := callSteps("SHARED-1")
	for i, name := range stepOrder {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		if r := c.Call(t, "sh-"+name, steps[name]); r.Status != relay.StatusPublished {
			t.Fatalf("%s: got %+v, want published", name, r)
		}
	}
	// Another tab's hook, on the other replica, with the first event.
	if r := cb.Call(t, "sh-tab2-ringing", steps["ringing"]); r.Status != relay.StatusDuplicate {
		t.Fatalf("the same ringing from another tab: got %+v, want duplicate", r)
	}
	// Repeated talk details on the other replica.
	if r := ca.Call(t, "sh-tab2-talk", steps["talk"]); r.Status != relay.StatusDuplicate {
		t.Fatalf("the same talk details again: got %+v, want duplicate", r)
	}
	evs, views := a.byCall(t)
	checkCall(t, "SHARED-1", stepOrder, evs["SHARED-1"], views["SHARED-1"])
	_, ba := a.get(t, "/metrics")
	_, bb := b.get(t, "/metrics")
	if !strings.Contains(ba+bb, `callrelay_correlation_total{result="matched"} 1`) ||
		strings.Contains(ba, `callrelay_correlation_total{result="matched"} 1`) == strings.Contains(bb, `callrelay_correlation_total{result="matched"} 1`) {
		t.Errorf("the match must be counted once, by one replica")
	}
}

// Many concurrent updates of one call from two replicas and several
// connections each: no update is lost.
func TestSharedConcurrentUpdatesLoseNothing(t *testing.T) {
	ns := MustNATS(t)
	replicas := []*testRelay{MustRelayOn(t, ns, true), MustRelayOn(t, ns, true)}
	const conns, perConn = 6, 5 // 30 distinct parties, under the 32 cap
	var wg sync.WaitGroup
	for ci := 0; ci < conns; ci++ {
		c := replicas[ci%2].MustDial(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perConn; j++ { // pipelined: all sent, then read
				p := fmt.Sprintf("p-%02d", ci*perConn+j)
				c.SendEvent(t, "cc-"+p, callBar("EventPartyChanged", map[string]any{"callID": "CONC-1", "partyID": p, "creationTime": t0 + ci*perConn + j}))
			}
			for j := 0; j < perConn; j++ {
				if a := c.Read(t); a.Type != "ack" || a.Status != relay.StatusPublished {
					t.Errorf("got %+v, want ack published", a)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		for i, r := range replicas {
			for _, line := range strings.Split(r.logs.String(), "\n") {
				if strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
					t.Logf("replica %d: %s", i, line)
				}
			}
		}
	}
	views := replicas[0].views(t)
	var last callView
	for _, v := range views {
		if v.Revision > last.Revision {
			last = v
		}
	}
	if len(last.Parties) != conns*perConn || last.Revision != conns*perConn {
		b, _ := json.Marshal(last)
		t.Errorf("highest revision %d has %d parties, want %d and %d:\n%s", last.Revision, len(last.Parties), conns*perConn, conns*perConn, b)
	}
	if n := len(replicas[0].published(t, "agentcall.default.callBarEvent.EventPartyChanged")); n != conns*perConn {
		t.Errorf("got %d events in the stream, want %d", n, conns*perConn)
	}
}
