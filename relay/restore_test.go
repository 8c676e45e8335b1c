package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// mustRestoredRelay starts a relay on ns as `relay` does with --state
// restore: its memory state is read back from the stream before it serves.
// Nothing stops it at the end of the test but the cleanup: a test "kills"
// it by walking away from it (no drain, no flush), which is what kill -9
// leaves behind in the stream.
func mustRestoredRelay(tb testing.TB, ns *sinks.Embedded) (*testRelay, correlate.ReplayStats) {
	tb.Helper()
	tr := &testRelay{ns: ns, logs: &syncBuffer{}}
	log := zerolog.New(tr.logs)
	nc, err := sinks.Connect(ns.ClientURL(), sinks.ConnectOptions{Name: "relay-under-test", Logger: log})
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sink, err := sinks.NewJetStream(ctx, nc, sinks.StreamConfig{Name: "AGENTCALL", Subjects: []string{"agentcall.>"}}, 0)
	if err != nil {
		tb.Fatalf("jetstream sink: %v", err)
	}
	tr.reg = prometheus.NewRegistry()
	srv, err := relay.New(relay.Config{PublishTimeout: 5 * time.Second, MaxClockSkew: 20 * 365 * 24 * time.Hour, RateLimit: 1e6, RateBurst: 1e6}, sink, log, tr.reg)
	if err != nil {
		tb.Fatalf("relay.New: %v", err)
	}
	replay, err := srv.Replay()
	if err != nil {
		tb.Fatalf("replay: %v", err)
	}
	if _, err := sinks.ReadBack(ctx, nc, sinks.ReadBackConfig{
		Stream: "AGENTCALL", Subject: "agentcall.default.>", Since: time.Now().Add(-time.Hour), MaxMessages: 10_000,
	}, replay.Add); err != nil {
		tb.Fatalf("read back: %v", err)
	}
	stats := replay.Finish()
	tr.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	tr.base = "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	obs, err := nats.Connect(ns.ClientURL())
	if err != nil {
		tb.Fatalf("observer connect: %v", err)
	}
	tr.obs = obs
	tr.js, _ = jetstream.New(obs)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		sink.Close()
		obs.Close()
		nc.Close()
	})
	return tr, stats
}

// After a relay is dropped without a drain and a new one restores its
// state from the stream, a call in progress goes on as if nothing had
// happened: its view revisions keep going up, the same talk details are
// still published once, a resent event and the same vendor event from
// another tab are duplicates, and later phone-bar events carry the talk
// details and the queue. A second restart, after the talk details changed,
// keeps the new ones.
func TestRestartRestoresCallState(t *testing.T) {
	ns := MustNATS(t)
	const call = "CALL-RESTART-1"
	steps := callSteps(call)

	first, stats := mustRestoredRelay(t, ns)
	if stats.Messages != 0 || stats.Calls != 0 {
		t.Fatalf("restore from an empty stream: got %+v, want nothing", stats)
	}
	c := first.MustDial(t)
	for i, step := range []string{"ringing", "talk", "established"} {
		if a := c.Call(t, "r-"+step, steps[step]); a.Status != "published" {
			t.Fatalf("%s (step %d): got %+v, want published", step, i, a)
		}
	}
	_ = c.ws.Close()

	second, stats := mustRestoredRelay(t, ns) // the first one is "killed": never drained
	if stats.Calls != 1 || stats.Events != 3 || stats.Views != 3 || stats.EventIDs != 3 || stats.ContentKeys != 2 {
		t.Errorf("restore: got %+v, want 1 call from 3 events and 3 views, 3 ids and 2 content keys", stats)
	}
	if got := gaugeValue(t, second.reg, "callrelay_state_restored", "call"); got != 1 {
		t.Errorf("callrelay_state_restored{kind=call}: got %v, want 1", got)
	}
	if got := gaugeValue(t, second.reg, "callrelay_calls_active", "established"); got != 1 {
		t.Errorf("callrelay_calls_active{state=established}: got %v, want 1", got)
	}
	c = second.MustDial(t)
	resigned := iframeParams(map[string]any{"callId": call, "sign": "0000aaaa", "timestamp": 1763717409999})
	for _, tc := range []struct {
		id   string
		data map[string]any
		want string
	}{
		{"r-talk-again", resigned, "duplicate"},                                                            // identical talk details, re-signed
		{"r-established", steps["established"], "duplicate"},                                               // a resend of an acknowledged id
		{"r-established-tab2", steps["established"], "duplicate"},                                          // the same vendor event from another tab
		{"r-released", steps["released"], "published"},                                                     // a later event
		{"r-talk-new", iframeParams(map[string]any{"callId": call, "uphone": "139****0000"}), "published"}, // changed talk details
	} {
		if a := c.Call(t, tc.id, tc.data); a.Status != tc.want {
			t.Fatalf("%s after the restart: got %+v, want %s", tc.id, a, tc.want)
		}
	}
	_ = c.ws.Close()

	third, _ := mustRestoredRelay(t, ns)
	c = third.MustDial(t)
	if a := c.Call(t, "r-talk-new-again", iframeParams(map[string]any{"callId": call, "uphone": "139****0000", "sign": "x"})); a.Status != "duplicate" {
		t.Fatalf("the changed talk details again after a second restart: got %+v, want duplicate", a)
	}
	if a := c.Call(t, "r-deleted", steps["deleted"]); a.Status != "published" {
		t.Fatalf("deleted after a second restart: got %+v, want published", a)
	}

	// The stream: each message once, revisions 1, 2, 3, ... without a gap
	// or a repeat across both restarts, talk and queue on the late events.
	views := third.views(t)
	for i, v := range views {
		if v.Revision != uint64(i+1) {
			t.Fatalf("view %d has revision %d, want %d (revisions: %v)", i, v.Revision, i+1, revisions(views))
		}
	}
	if len(views) != 6 {
		t.Errorf("got %d views, want 6 (revisions %v)", len(views), revisions(views))
	}
	if last := views[len(views)-1]; last.State != "ended" || last.Customer["uphone"] != "139****0000" || len(last.Queue) == 0 {
		b, _ := json.Marshal(last)
		t.Errorf("last view: got %s, want ended, with the new talk details and the queue", b)
	}
	if n := len(third.published(t, "agentcall.default.iframeParams")); n != 2 {
		t.Errorf("iframeParams stored: got %d, want 2 (the first and the changed ones)", n)
	}
	for _, subject := range []string{"agentcall.default.callBarEvent.EventReleased", "agentcall.default.callBarEvent.EventCallDeleted"} {
		evs := third.published(t, subject)
		if len(evs) != 1 {
			t.Fatalf("%s: got %d messages, want 1", subject, len(evs))
		}
		talk, _ := evs[0]["talk"].(map[string]any)
		if talk["partnerId"] != "P-778899" || evs[0]["queue"] == nil {
			t.Errorf("%s after a restart: got talk %v and queue %v, want both", subject, evs[0]["talk"], evs[0]["queue"])
		}
	}
	if evs := third.published(t, "agentcall.default.callBarEvent.EventCallDeleted"); evs[0]["talk"].(map[string]any)["uphone"] != "139****0000" {
		t.Errorf("EventCallDeleted after the second restart carries the old talk details: %v", evs[0]["talk"])
	}
}

func revisions(views []callView) []uint64 {
	out := make([]uint64, len(views))
	for i, v := range views {
		out[i] = v.Revision
	}
	return out
}

// gaugeValue reads the child of a gauge vector with one label value.
func gaugeValue(tb testing.TB, reg *prometheus.Registry, name, label string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				return m.GetGauge().GetValue()
			}
		}
	}
	tb.Fatalf("metric %s{%s} not found", name, label)
	return 0
}

// BenchmarkRestore measures the restore of a relay's state at start: the
// read-back of a stream holding the events and views of n calls (five
// events each: ringing, talk details, established, released, deleted;
// ten messages a call) and their replay. One iteration is one whole
// restore (e.g. -bench Restore -benchtime 3x).
func BenchmarkRestore(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			ns := MustNATS(b)
			msgs := fillStream(b, ns, n)
			nc, err := nats.Connect(ns.ClientURL())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sink := relay.Sink(nopSink{})
				srv, err := relay.New(relay.Config{}, sink, zerolog.Nop(), prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				replay, _ := srv.Replay()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				read, err := sinks.ReadBack(ctx, nc, sinks.ReadBackConfig{
					Stream: "AGENTCALL", Subject: "agentcall.default.>", Since: time.Now().Add(-time.Hour),
				}, replay.Add)
				cancel()
				stats := replay.Finish()
				if err != nil || read != msgs || stats.Calls != n {
					b.Fatalf("read %d of %d messages, %d calls of %d: %v", read, msgs, stats.Calls, n, err)
				}
			}
			b.StopTimer()
			perRestore := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(msgs)/perRestore, "msgs/s")
			b.ReportMetric(perRestore/float64(n)*1e6, "µs/call")
		})
	}
}

// nopSink takes nothing; the benchmark's relays never publish.
type nopSink struct{}

func (nopSink) Publish(_ relay.Envelope, c relay.Completion, tag int) { c.Published(tag, false, nil) }
func (nopSink) Ready(context.Context) error                           { return nil }

// fillStream stores in the AGENTCALL stream of ns what a relay publishes
// for n calls, events and views with their message ids, as the relay's
// pipeline makes them, and returns the number of messages.
func fillStream(tb testing.TB, ns *sinks.Embedded, n int) int {
	tb.Helper()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "AGENTCALL", Subjects: []string{"agentcall.>"}}); err != nil {
		tb.Fatal(err)
	}
	corr, err := correlate.New(correlate.Config{Tenant: "default"}, nil, prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	subjects, _ := events.NewSubjects("agentcall", "default")
	seen := time.Now()
	count := 0
	publish := func(subject, id string, data []byte) {
		m := nats.NewMsg(subject)
		m.Header.Set("Nats-Msg-Id", id)
		m.Data = data
		if _, err := js.PublishMsgAsync(m); err != nil {
			tb.Fatal(err)
		}
		count++
	}
	for i := 0; i < n; i++ {
		call := fmt.Sprintf("FILL-%06d", i)
		steps := callSteps(call)
		for _, s := range stepOrder {
			data, _ := json.Marshal(steps[s])
			msg, err := events.Parse(data, events.Options{})
			if err != nil {
				tb.Fatal(err)
			}
			id := call + "-" + s
			ev := events.NewEvent(msg, id, "default", "", seen, seen)
			txn, err := corr.Begin(ctx, correlate.Input{Msg: msg, Event: ev, SeenAt: seen})
			if err != nil || txn.Dup != "" {
				tb.Fatalf("begin %s: %q %v", id, txn.Dup, err)
			}
			publish(subjects.For(msg), id, ev.AppendJSON(nil))
			if view, viewID, ok := txn.View(); ok {
				publish(subjects.Call(), viewID, view.AppendJSON(nil))
			}
			if err := txn.Commit(ctx, nil); err != nil {
				tb.Fatal(err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		tb.Fatal("stream not filled in time")
	}
	return count
}

// ReadBack reads the window oldest first, and only the newest messages
// when the window holds more than its bound; a window after the last
// message reads nothing.
func TestReadBackBounds(t *testing.T) {
	ns := MustNATS(t)
	total := fillStream(t, ns, 50) // 500 messages
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name      string
		since     time.Time
		max       int
		wantRead  int
		wantFirst string // Nats-Msg-Id of the first message read
	}{
		{"all", time.Now().Add(-time.Hour), 0, total, "FILL-000000-ringing"},
		{"bounded", time.Now().Add(-time.Hour), 100, 100, "FILL-000040-ringing"},
		{"future", time.Now().Add(time.Hour), 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []correlate.Stored
			read, err := sinks.ReadBack(ctx, nc, sinks.ReadBackConfig{
				Stream: "AGENTCALL", Subject: "agentcall.default.>", Since: tc.since, MaxMessages: tc.max,
			}, func(s correlate.Stored) {
				got = append(got, correlate.Stored{Subject: s.Subject, MsgID: s.MsgID, Time: s.Time})
			})
			if err != nil || read != tc.wantRead || len(got) != tc.wantRead {
				t.Fatalf("got %d messages (%d handed over), %v; want %d", read, len(got), err, tc.wantRead)
			}
			if len(got) == 0 {
				return
			}
			wantLast := fmt.Sprintf("call:%s:%d:5", events.CallKey("default", "FILL-000049"), t0) // the last call's last view
			if got[0].MsgID != tc.wantFirst || got[len(got)-1].MsgID != wantLast {
				t.Errorf("first and last: got %s and %s, want %s and %s", got[0].MsgID, got[len(got)-1].MsgID, tc.wantFirst, wantLast)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Time.Before(got[i-1].Time) {
					t.Fatalf("message %d stored before message %d: not in stream order", i, i-1)
				}
			}
		})
	}
	// A read-back whose time is up stops with its context's error.
	stopped, stop := context.WithCancel(ctx)
	read, err := sinks.ReadBack(stopped, nc, sinks.ReadBackConfig{
		Stream: "AGENTCALL", Subject: "agentcall.default.>", Since: time.Now().Add(-time.Hour),
	}, func(correlate.Stored) { stop() })
	if !errors.Is(err, context.Canceled) || read >= total {
		t.Errorf("read-back cut short after the first message: got %d messages and %v, want fewer than %d and context.Canceled", read, err, total)
	}
}
