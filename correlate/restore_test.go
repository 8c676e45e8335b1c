package correlate_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
)

// recorder plays events through a Correlator on a fake clock, as the relay
// does around successful publishes, and keeps what the relay would have
// stored in its stream.
type recorder struct {
	tb     testing.TB
	clock  *fakeClock
	c      *correlate.Correlator
	ids    *correlate.Dedup
	stored []correlate.Stored
}

func newRecorder(tb testing.TB) *recorder {
	r := &recorder{tb: tb, clock: newFakeClock()}
	mem := correlate.NewMemory(correlate.MemoryConfig{})
	mem.SetClock(r.clock.Now)
	r.c, r.ids = newCorrelator(tb, mem)
	r.ids.SetClock(r.clock.Now)
	return r
}

// play correlates data under id, then lets the clock run by after.
func (r *recorder) play(id string, data []byte, after time.Duration) {
	m, err := events.Parse(data, events.Options{})
	if err != nil {
		r.tb.Fatal(err)
	}
	ctx := context.Background()
	now := r.clock.Now()
	claim, dup, err := r.ids.Claim(ctx, r.ids.KeyOf(id))
	if err != nil || dup {
		r.tb.Fatalf("id %s: dup %v err %v", id, dup, err)
	}
	ev := events.NewEvent(m, id, "default", "", now, now)
	txn, err := r.c.Begin(ctx, correlate.Input{Msg: m, Event: ev, SeenAt: now})
	if err != nil {
		r.tb.Fatal(err)
	}
	if txn.Dup == "" {
		subject := "agentcall.default.callBarEvent." + m.MessageID
		if m.Type == events.TypeIframeParams {
			subject = "agentcall.default.iframeParams"
		}
		r.stored = append(r.stored, correlate.Stored{Subject: subject, MsgID: id, Data: ev.AppendJSON(nil), Time: now})
		if view, viewID, ok := txn.View(); ok {
			r.stored = append(r.stored, correlate.Stored{Subject: "agentcall.default.call", MsgID: viewID, Data: view.AppendJSON(nil), Time: now})
		}
		if err := txn.Commit(ctx, nil); err != nil {
			r.tb.Fatal(err)
		}
	}
	claim.Commit()
	r.clock.Advance(after)
}

// restore replays r.stored[from:] into a new correlator on r's clock.
func (r *recorder) restore(from int) (*correlate.Correlator, *correlate.Dedup, correlate.ReplayStats) {
	mem := correlate.NewMemory(correlate.MemoryConfig{})
	mem.SetClock(r.clock.Now)
	c, err := correlate.New(correlate.Config{Tenant: "default"}, mem, prometheus.NewRegistry())
	if err != nil {
		r.tb.Fatal(err)
	}
	ids := correlate.NewDedup(correlate.DefaultDedupWindow, correlate.DefaultDedupMax)
	ids.SetClock(r.clock.Now)
	replay, err := correlate.NewReplay(c, ids, correlate.ReplaySubjects{Call: "agentcall.default.call", Rejected: "agentcall.default.rejected"})
	if err != nil {
		r.tb.Fatal(err)
	}
	for _, s := range r.stored[from:] {
		replay.Add(s)
	}
	return c, ids, replay.Finish()
}

func record(tb testing.TB, c *correlate.Correlator, callID string) string {
	tb.Helper()
	rec, _, err := c.Mirror().Call(context.Background(), events.CallKey("default", callID))
	if err != nil {
		tb.Fatal(err)
	}
	if rec == nil {
		return "absent"
	}
	b, _ := json.Marshal(rec)
	return string(b)
}

// A replay of everything a relay stored gives back its state: each call's
// record as it was (revision, creation time, talk details, queue, times),
// agents, content keys and ids in their windows; a call that ended long
// ago, a content key and an id older than the dedup window are not
// brought back.
func TestReplayRestoresTheState(t *testing.T) {
	r := newRecorder(t)
	const t0 = 1763717400000
	// An old call, ended 20 minutes before the restart (past the 5m ended TTL).
	for _, s := range lifecycle {
		r.play("old-"+s, callData(s, "OLD", t0), time.Second)
	}
	r.play("agent-1", []byte(`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventAgentReady","agentID":"1001","creationTime":1763717401000,"companyId":"cmp-1"}}`), 20*time.Minute)
	// A call in progress: ringing, talk details, established.
	for _, s := range []string{"ringing", "talk", "established"} {
		r.play("live-"+s, callData(s, "LIVE", t0+3_600_000), time.Second)
	}
	want := record(t, r.c, "LIVE")

	c, ids, stats := r.restore(0)
	if got := record(t, c, "LIVE"); got != want {
		t.Errorf("restored call:\n got %s\nwant %s", got, want)
	}
	if got := record(t, c, "OLD"); got != "absent" {
		t.Errorf("a call that ended 20 minutes ago: got %s, want absent", got)
	}
	if stats.Calls != 1 || stats.Agents != 1 || stats.Events != 9 || stats.Views != 8 {
		t.Errorf("stats: got %+v, want 1 call, 1 agent, 9 events, 8 views", stats)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		id      string
		wantDup bool
	}{{"live-ringing", true}, {"live-established", true}, {"old-ringing", false}} {
		c, dup, err := ids.Claim(ctx, ids.KeyOf(tc.id))
		if err != nil || dup != tc.wantDup {
			t.Errorf("id %s after the restore: duplicate %v, err %v; want duplicate %v", tc.id, dup, err, tc.wantDup)
		}
		if !dup {
			c.Release()
		}
	}
	// The next event of the live call continues its story: a new revision,
	// talk details and queue on the event; the same talk details again are a repeat.
	for _, tc := range []struct {
		step, wantDup string
	}{{"established", correlate.DupContent}, {"talk", correlate.DupRepeat}, {"released", ""}} {
		data := callData(tc.step, "LIVE", t0+3_600_000)
		m, _ := events.Parse(data, events.Options{})
		ev := events.NewEvent(m, "next-"+tc.step, "default", "", r.clock.Now(), r.clock.Now())
		txn, err := c.Begin(ctx, correlate.Input{Msg: m, Event: ev, SeenAt: r.clock.Now()})
		if err != nil || txn.Dup != tc.wantDup {
			t.Fatalf("%s after the restore: dup %q err %v, want dup %q", tc.step, txn.Dup, err, tc.wantDup)
		}
		if tc.wantDup != "" {
			continue
		}
		view, _, _ := txn.View()
		if view.Revision != 4 || ev.Talk == nil || ev.Queue == nil {
			t.Errorf("released after the restore: revision %d (want 4), talk %s, queue %v", view.Revision, ev.Talk, ev.Queue)
		}
		txn.Abort()
	}
}

// A replay that begins after a call's first event (the window cut it)
// takes the call's numbering from its views, so its next view follows the
// last one published.
func TestReplayContinuesRevisionsFromTheViews(t *testing.T) {
	r := newRecorder(t)
	for _, s := range []string{"ringing", "talk", "established"} {
		r.play("cut-"+s, callData(s, "CUT", 1763717400000), time.Second)
	}
	want := record(t, r.c, "CUT")
	c, _, _ := r.restore(2) // without the ringing event and its view
	if got := record(t, c, "CUT"); got == "absent" {
		t.Fatal("call not restored")
	}
	var gotRec, wantRec events.CallRecord
	_ = json.Unmarshal([]byte(record(t, c, "CUT")), &gotRec)
	_ = json.Unmarshal([]byte(want), &wantRec)
	if gotRec.Revision != wantRec.Revision || gotRec.Created != wantRec.Created {
		t.Errorf("revision and creation time: got %d and %d, want %d and %d", gotRec.Revision, gotRec.Created, wantRec.Revision, wantRec.Created)
	}
}
