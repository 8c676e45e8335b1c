package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/callrelay/callrelay/relay"
)

// windowEvents returns n events of several calls, each call's five steps in
// order, interleaved, with unique ids: many of them change a call view.
func windowEvents(prefix string, n int) (ids []string, datas []map[string]any) {
	for i := 0; len(ids) < n; i++ {
		callID := fmt.Sprintf("%s-C%d", prefix, i)
		steps := callSteps(callID)
		for _, name := range stepOrder {
			if len(ids) == n {
				break
			}
			ids = append(ids, callID+"-"+name)
			datas = append(datas, steps[name])
		}
	}
	return ids, datas
}

// storedEventIDs returns the ids of the events (not views, not rejected)
// in the stream, in stream order.
func storedEventIDs(tb testing.TB, tr *testRelay) []string {
	tb.Helper()
	var ids []string
	for _, m := range tr.streamMsgs(tb) {
		if strings.HasSuffix(m.Subject, ".call") || strings.HasSuffix(m.Subject, ".rejected") {
			continue
		}
		ids = append(ids, m.Header.Get("Nats-Msg-Id"))
	}
	return ids
}

// A client that sends a whole window without waiting gets every answer, in
// order; the stream holds the events in the order they were sent, and each
// call's views rise in revision and never move back in state.
func TestWindowKeepsOrder(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	ids, datas := windowEvents("W", 300)
	for i := range ids {
		c.SendEvent(t, ids[i], datas[i])
	}
	for i, id := range ids {
		a := c.Read(t)
		if a.ID != id || a.Type != "ack" || a.Status != relay.StatusPublished {
			t.Fatalf("answer %d: got %+v, want ack published for %s", i, a, id)
		}
	}
	if got := storedEventIDs(t, tr); strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("stream order differs from send order:\n got %v\nwant %v", got, ids)
	}
	evs, views := tr.byCall(t)
	for callID, vs := range views {
		order := make([]string, 0, len(evs[callID]))
		for _, e := range evs[callID] {
			id := e["id"].(string)
			order = append(order, id[strings.LastIndex(id, "-")+1:])
		}
		if len(order) == len(stepOrder) {
			checkCall(t, callID, order, evs[callID], vs)
		}
	}
}

// NATS stops in the middle of a full window. Every event is answered
// exactly once and in order; what the stream stored is a prefix of what was
// sent, in order; every event not acked was nacked with retry:true. Sent
// again once NATS is back, oldest first, everything ends up stored once, in
// the order sent.
func TestNATSStoppedInTheMiddleOfAWindow(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	ids, datas := windowEvents("N", 64)
	for i := 0; i < 8; i++ { // a few acked before the outage
		if a := c.Call(t, ids[i], datas[i]); a.Type != "ack" {
			t.Fatalf("before the outage: got %+v", a)
		}
	}
	for i := 8; i < len(ids); i++ {
		c.SendEvent(t, ids[i], datas[i])
		if i == 30 {
			if err := tr.ns.Close(); err != nil {
				t.Fatalf("stop nats: %v", err)
			}
		}
	}
	var retry []int
	firstNack := -1
	for i := 8; i < len(ids); i++ {
		a := c.Read(t)
		if a.ID != ids[i] {
			t.Fatalf("answer %d: got id %q, want %q (in order, once each)", i, a.ID, ids[i])
		}
		switch {
		case a.Type == "ack":
			if firstNack >= 0 {
				t.Fatalf("%s acked after %s was nacked with retry: the order rule is broken", ids[i], ids[firstNack])
			}
		case a.Type == "nack" && a.Retry:
			if firstNack < 0 {
				firstNack = i
			}
			retry = append(retry, i)
		default:
			t.Fatalf("%s: got %+v, want an ack or a retryable nack", ids[i], a)
		}
	}
	if firstNack < 0 {
		t.Fatalf("no event was nacked although NATS stopped in the middle of the window")
	}

	tr.startNATS(t, tr.natsPort)
	eventually(t, "the relay to be ready again", func() bool {
		status, _ := tr.get(t, "/readyz")
		return status == 200
	})
	stored := storedEventIDs(t, tr)
	if strings.Join(stored, ",") != strings.Join(ids[:len(stored)], ",") {
		t.Fatalf("the stream holds %v, want a prefix of what was sent", stored)
	}
	for _, i := range retry { // the hook's way: oldest first
		a := c.Call(t, ids[i], datas[i])
		if a.Type != "ack" {
			t.Fatalf("resend of %s: got %+v, want an ack", ids[i], a)
		}
	}
	if got := storedEventIDs(t, tr); strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("after the resends the stream holds\n %v\nwant every event once, in order\n %v", got, ids)
	}
}

// A client that goes away with a window in flight leaves nothing held: the
// same events sent again on a new connection are all acknowledged, stored
// once, and the calls' state is consistent.
func TestDisconnectWithEventsInFlight(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	ids, datas := windowEvents("D", 60)
	for i := range ids {
		c.SendEvent(t, ids[i], datas[i])
	}
	_ = c.ws.Close() // without reading a single answer
	eventually(t, "the connection to be gone", func() bool {
		_, body := tr.get(t, "/metrics")
		return strings.Contains(body, "callrelay_connections 0")
	})
	c2 := tr.MustDial(t)
	for i := range ids {
		a := c2.Call(t, ids[i], datas[i])
		if a.Type != "ack" {
			t.Fatalf("resend of %s: got %+v, want an ack", ids[i], a)
		}
	}
	if got := storedEventIDs(t, tr); strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("stream:\n got %v\nwant every event once, in order\n %v", got, ids)
	}
}

// A shutdown with a window in flight: the answers that come are in order
// and each is an ack or a retryable nack; every acked event is in the
// stream; the connection then closes with 1001 going away.
func TestShutdownWithEventsInFlight(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	ids, datas := windowEvents("S", 64)
	for i := range ids {
		c.SendEvent(t, ids[i], datas[i])
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- tr.srv.Shutdown(ctx)
	}()
	var acked []string
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; ; i++ {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Fatalf("after %d answers: got %v, want a 1001 close", i, err)
			}
			break
		}
		var a answer
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatalf("answer %s: %v", data, err)
		}
		if a.Type == "draining" { // the notice, not an answer
			i--
			continue
		}
		if i >= len(ids) || a.ID != ids[i] {
			t.Fatalf("answer %d: got %+v, want the answer to %s (in order, once)", i, a, ids[min(i, len(ids)-1)])
		}
		switch {
		case a.Type == "ack":
			acked = append(acked, a.ID)
		case a.Type == "nack" && a.Retry:
		default:
			t.Fatalf("%s: got %+v, want an ack or a retryable nack", a.ID, a)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	stored := map[string]bool{}
	for _, id := range storedEventIDs(t, tr) {
		stored[id] = true
	}
	for _, id := range acked {
		if !stored[id] {
			t.Errorf("%s was acked but is not in the stream", id)
		}
	}
}
