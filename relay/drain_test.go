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

// A client writes many event frames and the relay shuts down right after,
// with most of them still unread in the socket (the window holds 64): every
// frame gets exactly one answer, in order (an ack, or a retryable nack),
// the client is told the relay is draining once, and the connection then
// closes with 1001. Every acked event is in the stream.
func TestShutdownAnswersEveryFrameWritten(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	if a := c.Call(t, "warm-up", callBar("EventAgentLogin", nil)); a.Type != "ack" {
		t.Fatalf("warm-up: got %+v, want an ack", a)
	}
	const n = 400
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("drain-%03d", i)
		c.SendEvent(t, ids[i], callBar("EventAgentReady", nil))
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		done <- tr.srv.Shutdown(ctx)
	}()

	var acked []string
	answered, notices := 0, 0
	_ = c.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Fatalf("after %d answers: got %v, want a 1001 close", answered, err)
			}
			break
		}
		var a answer
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		if a.Type == "draining" {
			notices++
			continue
		}
		if answered >= n || a.ID != ids[answered] {
			t.Fatalf("answer %d: got %+v, want the answer to %s (each once, in order)", answered, a, ids[min(answered, n-1)])
		}
		answered++
		switch {
		case a.Type == "ack":
			acked = append(acked, a.ID)
		case a.Type == "nack" && a.Retry && (a.Code == relay.CodeDraining || a.Code == relay.CodeHeldForOrder):
		default:
			t.Fatalf("%s: got %+v, want an ack or a draining/held_for_order nack", a.ID, a)
		}
	}
	if answered != n {
		t.Fatalf("got %d answers before the close, want %d", answered, n)
	}
	if notices != 1 {
		t.Errorf("got %d draining frames, want 1", notices)
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
	t.Logf("%d acked, %d nacked for the drain", len(acked), n-len(acked))
}

// A client that keeps writing through a shutdown is read only for the
// drain grace: Shutdown ends in time, and every frame answered before the
// close is answered once, in order.
func TestShutdownGraceBoundsABusyClient(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.DrainGrace = 300 * time.Millisecond })
	c := tr.MustDial(t)
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if err := c.ws.WriteMessage(websocket.TextMessage, eventFrame(fmt.Sprintf("busy-%05d", i), callBar("EventAgentReady", nil))); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); <-writerDone }()
	if a := c.Read(t); a.Type != "ack" {
		t.Fatalf("first answer: got %+v, want an ack", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v (the drain grace should have ended the busy connection)", err)
	}
	next := 1
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Fatalf("got %v, want a 1001 close", err)
			}
			return
		}
		var a answer
		_ = json.Unmarshal(data, &a)
		if a.Type == "draining" {
			continue
		}
		if want := fmt.Sprintf("busy-%05d", next); a.ID != want {
			t.Fatalf("got the answer to %s, want %s (each once, in order)", a.ID, want)
		}
		next++
	}
}

// During a drain every event is refused with retry. The first one refused
// stays the connection's barrier: sent again, it gets its own answer
// (draining), and the events behind it are held_for_order. (A later
// refusal that moved the barrier made the client's resend of the first
// one held_for_order in turn, and let a later event through ahead of it.)
func TestDrainKeepsTheFirstRefusedEventTheBarrier(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.DrainGrace = 5 * time.Second })
	c := tr.MustDial(t)
	if a := c.Call(t, "warm-up", callBar("EventAgentLogin", nil)); a.Type != "ack" {
		t.Fatalf("warm-up: got %+v, want an ack", a)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		done <- tr.srv.Shutdown(ctx)
	}()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the draining frame: %v", err)
		}
		if strings.Contains(string(data), `"type":"draining"`) {
			break
		}
	}
	ids := []string{"b-1", "b-2", "b-3", "b-4", "b-5"}
	for round := 0; round < 3; round++ {
		for _, id := range ids { // the window, oldest first, without waiting
			c.SendEvent(t, id, callBar("EventAgentReady", nil))
		}
		for i, id := range ids {
			a := c.Read(t)
			want := relay.CodeHeldForOrder
			if i == 0 {
				want = relay.CodeDraining
			}
			if a.ID != id || a.Type != "nack" || !a.Retry || a.Code != want {
				t.Fatalf("round %d, answer %d: got %+v, want nack %s retry:true for %s", round, i, a, want, id)
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
