package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// faultEpoch is the vendor time of the fault test's first call.
var faultEpoch = time.Now().Add(-time.Hour).UnixMilli()

// The fault test's size: clients behaving like the hook, each playing
// calls of six events (ringing, talk details, established, the same talk
// details again, released, deleted) at a steady rate, while the relay and
// the nats-server are killed and restarted.
const (
	faultClients        = 6
	faultCallsPerClient = 200
	faultEventsPerCall  = 6
	faultEventsPerSec   = 50 // per client
	faultWindow         = 8  // events in flight per connection
)

// TestFaultsLoseNothing runs the relay binary against a separate
// nats-server process and kills both, several times each, with kill -9,
// and the relay with SIGTERM too, while hook-like clients send a few
// thousand events. Then it checks what the stream holds: every
// acknowledged event once, in each client's order, identical talk details
// once per call, talk details and queue on each call's later events, and
// call views whose revision never goes down across the relay's restarts.
func TestFaultsLoseNothing(t *testing.T) {
	natsBin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Fatalf("the fault test needs Debian's nats-server (scripts/test installs it): %v", err)
	}
	bin := MustBuild(t)
	dir := t.TempDir()
	ns := &faultNATS{bin: natsBin, port: faultPort(t), dir: filepath.Join(dir, "nats"), log: filepath.Join(dir, "nats.log")}
	ns.start(t)
	t.Cleanup(ns.kill)
	rl := &faultRelay{bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", faultPort(t)), natsURL: ns.url(), log: filepath.Join(dir, "relay.log")}
	rl.start(t)
	t.Cleanup(rl.kill)

	clients := make([]*hookClient, faultClients)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range clients {
		clients[i] = newHookClient(i, rl)
		wg.Add(1)
		go func(c *hookClient) { defer wg.Done(); c.run(stop) }(clients[i])
	}

	// The faults, one every 2.5 s while the clients generate events.
	faults := []string{"relay-kill", "nats-kill", "relay-term", "relay-kill", "nats-kill", "relay-term", "relay-kill", "nats-kill", "relay-term"}
	counts := map[string]int{}
	for _, f := range faults {
		time.Sleep(2500 * time.Millisecond)
		switch f {
		case "relay-kill":
			rl.kill()
			rl.start(t)
		case "relay-term":
			// SIGTERM while frames are in flight, as under real load.
			for wait := time.Now().Add(2 * time.Second); inflightTotal(clients) == 0 && time.Now().Before(wait); {
				time.Sleep(time.Millisecond)
			}
			if err := rl.term(); err != nil {
				t.Errorf("relay after SIGTERM: %v\n%s", err, tailFile(rl.log, 20))
			}
			rl.start(t)
		case "nats-kill":
			ns.kill()
			time.Sleep(300 * time.Millisecond)
			ns.start(t)
		}
		counts[f]++
	}

	// Every client's outbox must empty: every event acknowledged.
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range clients {
		for !c.done() {
			if time.Now().After(deadline) {
				t.Fatalf("client %d still holds %d unacknowledged events after 60s\nrelay log:\n%s", c.n, c.pending(), tailFile(rl.log, 30))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()

	stored := readStream(t, ns.url())
	var sent, acked, retried, unansweredTerm, unansweredKill, conns int
	for _, c := range clients {
		sent += c.frames
		acked += len(c.acked)
		retried += c.retried
		unansweredTerm += c.unanswered["term"]
		unansweredKill += c.unanswered["kill"]
		conns += c.conns
		for _, code := range c.refused {
			t.Errorf("client %d: an event was refused with %s", c.n, code)
		}
	}
	t.Logf("fault test: %d clients, %d events, %d frames sent on %d connections, %d acks, %d retryable nacks; "+
		"relay kill -9 x%d, relay SIGTERM x%d, nats-server kill -9 x%d; frames unanswered at SIGTERM: %d, at kill -9: %d; %d messages stored",
		faultClients, faultClients*faultCallsPerClient*faultEventsPerCall, sent, conns, acked, retried,
		counts["relay-kill"], counts["relay-term"], counts["nats-kill"], unansweredTerm, unansweredKill, len(stored))
	if unansweredTerm > 0 {
		t.Errorf("%d event frames were never answered when the relay was stopped with SIGTERM", unansweredTerm)
	}
	checkStream(t, clients, stored)
}

// inflightTotal is the number of event frames sent and not yet answered.
func inflightTotal(clients []*hookClient) int64 {
	var n int64
	for _, c := range clients {
		n += c.inflight.Load()
	}
	return n
}

// checkStream checks what the stream holds against what the clients had
// acknowledged: every acknowledged event stored, none twice, each client's
// events in the order it sent them, and per call its view revisions never
// going down, its talk details stored once, and its later events carrying
// talk details and queue.
func checkStream(t *testing.T, clients []*hookClient, stored []streamMsg) {
	t.Helper()
	seen := map[string]int{}     // event id -> times stored
	position := map[string]int{} // event id -> first stream position
	talks := map[string]int{}    // call -> iframeParams stored
	failures := 0
	// fail reports a broken promise about call.
	fail := func(call, format string, args ...any) {
		t.Helper()
		failures++
		if failures <= 10 {
			t.Errorf("call %s: "+format+"\n%s", append(append([]any{call}, args...), callHistory(stored, call))...)
		}
	}
	lastRev := map[string]uint64{}
	for i, m := range stored {
		call, _ := m.body["callId"].(string)
		switch {
		case strings.HasSuffix(m.subject, ".call"):
			rev := uint64(m.body["revision"].(float64))
			if rev <= lastRev[call] {
				fail(call, "view revision %d stored after revision %d", rev, lastRev[call])
			} else {
				lastRev[call] = rev
			}
		case strings.HasSuffix(m.subject, ".rejected"):
			t.Errorf("an event was rejected: %v", m.body)
		default:
			id, _ := m.body["id"].(string)
			if id != m.msgID {
				t.Errorf("stored event's body id %q differs from its Nats-Msg-Id %q", id, m.msgID)
			}
			seen[id]++
			if _, ok := position[id]; !ok {
				position[id] = i
			}
			if m.body["type"] == "iframeParams" {
				talks[call]++
			}
			// Events after the talk details and EventEstablished carry both,
			// across the relay's restarts.
			if mid := m.body["messageID"]; (mid == "EventReleased" || mid == "EventCallDeleted") && (m.body["talk"] == nil || m.body["queue"] == nil) {
				fail(call, "%s stored without talk details or queue", mid)
			}
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	outOfOrder := 0
	for _, c := range clients {
		last := -1
		for seq, ev := range c.events {
			if _, ok := c.acked[ev.id]; !ok {
				t.Errorf("client %d: event %s was never acknowledged", c.n, ev.id)
				continue
			}
			pos, inStream := position[ev.id]
			switch {
			case ev.repeat && inStream:
				fail(ev.call, "%s, identical talk details, was stored again", ev.id)
			case ev.repeat:
			case !inStream:
				t.Errorf("client %d: acknowledged event %s (#%d) is not in the stream", c.n, ev.id, seq)
			case pos < last:
				outOfOrder++
				if outOfOrder <= 5 {
					t.Errorf("client %d: event %s (#%d) stored at %d, before an earlier event of the client (at %d)", c.n, ev.id, seq, pos, last)
				}
			default:
				last = pos
			}
		}
		for call := 0; call < faultCallsPerClient; call++ {
			if id := callID(c.n, call); talks[id] != 1 {
				fail(id, "%d talk details stored, want 1", talks[id])
			}
		}
	}
	switch {
	case outOfOrder > 0:
		t.Errorf("%d events were stored ahead of an earlier event of their client", outOfOrder)
	}
	if failures > 0 {
		t.Errorf("%d checks failed in calls stored in order", failures)
	}
}

// callHistory lists the stored messages of call, for a failure's message.
func callHistory(stored []streamMsg, call string) string {
	var b strings.Builder
	for i, m := range stored {
		if m.body["callId"] == call {
			fmt.Fprintf(&b, "  #%d %s %s rev=%v\n", i, m.subject, m.msgID, m.body["revision"])
		}
	}
	return b.String()
}

// inOrder reports whether the events of call were stored in the order the
// client sent them (the ids' sequence numbers).
func inOrder(stored []streamMsg, call string) bool {
	last := -1
	for _, m := range stored {
		if m.body["callId"] != call || strings.HasSuffix(m.subject, ".call") {
			continue
		}
		id, _ := m.body["id"].(string)
		seq, _ := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
		if seq < last {
			return false
		}
		last = seq
	}
	return true
}

// hookEvent is one event a client generates.
type hookEvent struct {
	id     string
	call   string
	frame  []byte
	repeat bool // identical talk details delivered again
}

// hookClient behaves like the browser hook: an outbox of events with
// unique ids, sent oldest first with a window in flight, each kept until
// acknowledged; after a retryable nack it sends nothing newer until the
// older ones were sent again; after a draining frame it sends nothing
// more on that connection; after losing the connection it reconnects and
// sends its outbox again, oldest first.
type hookClient struct {
	n      int
	relay  *faultRelay
	events []hookEvent // everything generated, in order

	mu      sync.Mutex
	outbox  []int // indexes into events, unacknowledged, oldest first
	acked   map[string]string
	refused []string
	gen     int // events generated so far

	frames, retried, conns int
	inflight               atomic.Int64   // frames sent on the current connection, unanswered
	unanswered             map[string]int // by how the relay stopped: term, kill, other
}

func newHookClient(n int, r *faultRelay) *hookClient {
	c := &hookClient{n: n, relay: r, acked: map[string]string{}, unanswered: map[string]int{}}
	for call := 0; call < faultCallsPerClient; call++ {
		for step := 0; step < faultEventsPerCall; step++ {
			seq := len(c.events)
			id := fmt.Sprintf("f%d-%05d", n, seq)
			data := faultStep(n, call, step)
			frame, _ := json.Marshal(map[string]any{"type": "event", "id": id, "seenAt": time.Now().UTC().Format(time.RFC3339Nano), "data": data})
			c.events = append(c.events, hookEvent{id: id, call: callID(n, call), frame: frame, repeat: step == 3})
		}
	}
	return c
}

func callID(client, call int) string { return fmt.Sprintf("FAULT-%d-%03d", client, call) }

// faultStep is the event.data of step of a call.
func faultStep(client, call, step int) map[string]any {
	id := callID(client, call)
	// Vendor times an hour back from now, within the relay's clock-skew bound.
	t0 := faultEpoch + int64(client)*10_000_000 + int64(call)*100_000
	bar := func(messageID string, at int64, extra map[string]any) map[string]any {
		p := map[string]any{"messageID": messageID, "callID": id, "creationTime": at, "companyId": "cmp-01", "partyID": "p-1", "agentID": strconv.Itoa(1000 + client)}
		for k, v := range extra {
			p[k] = v
		}
		return map[string]any{"source": "agentCall", "type": "callBarEvent", "params": p}
	}
	talk := func(sign string) map[string]any {
		return map[string]any{"source": "agentCall", "type": "iframeParams", "params": map[string]any{
			"callId": id, "callType": 2, "partnerId": "P-" + id, "uphone": "158****2496", "email": "agent01@example.com", "sign": sign, "timestamp": t0 + 1000,
		}}
	}
	switch step {
	case 0:
		return bar("EventRinging", t0, map[string]any{"callType": "Inbound"})
	case 1:
		return talk("first")
	case 2:
		return bar("EventEstablished", t0+5000, map[string]any{"firstDistributedQueueName": "Sales", "lastDistributedQueueName": "VIP", "lastDistributedQueueId": "2"})
	case 3:
		return talk("again") // re-signed: the same talk details
	case 4:
		return bar("EventReleased", t0+65000, nil)
	default:
		return bar("EventCallDeleted", t0+66000, nil)
	}
}

// done reports whether every event was generated and acknowledged.
func (c *hookClient) done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen == len(c.events) && len(c.outbox) == 0
}

func (c *hookClient) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.outbox) + len(c.events) - c.gen
}

// run generates events at the client's rate and keeps a connection to the
// relay, until stop.
func (c *hookClient) run(stop chan struct{}) {
	// A call's events come in a burst, as a backlog does after a reconnect.
	genTick := time.NewTicker(time.Second * faultEventsPerCall / faultEventsPerSec)
	defer genTick.Stop()
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-genTick.C:
				c.mu.Lock()
				for i := 0; i < faultEventsPerCall && c.gen < len(c.events); i++ {
					c.outbox = append(c.outbox, c.gen)
					c.gen++
				}
				c.mu.Unlock()
			}
		}
	}()
	for {
		select {
		case <-stop:
			return
		default:
		}
		c.connection(stop)
		time.Sleep(100 * time.Millisecond)
	}
}

// answerFrame is an ack, a nack or the draining frame (other frames are
// ignored).
type answerFrame struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Status string `json:"status"`
	Code   string `json:"code"`
	Retry  bool   `json:"retry"`
}

// connection runs one WebSocket connection until it ends.
func (c *hookClient) connection(stop chan struct{}) {
	relayGen := c.relay.generation()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+c.relay.addr+"/v1/ws", http.Header{"Origin": {"http://" + c.relay.addr}})
	if err != nil {
		return
	}
	defer ws.Close()
	defer c.inflight.Store(0)
	c.mu.Lock()
	c.conns++
	c.mu.Unlock()
	answers := make(chan answerFrame, 64)
	go func() {
		defer close(answers)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var a answerFrame
			if json.Unmarshal(data, &a) == nil && (a.Type == "ack" || a.Type == "nack" || a.Type == "draining") {
				answers <- a
			}
		}
	}()
	var inflight []int // indexes sent on this connection, unanswered, in order
	pos := 0           // outbox entries sent on this connection
	held := false      // a retryable nack: send nothing until the window is answered
	draining := false  // the relay is shutting down: send nothing more on this connection
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c.mu.Lock()
		for !held && !draining && len(inflight) < faultWindow && pos < len(c.outbox) {
			idx := c.outbox[pos]
			_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if err := ws.WriteMessage(websocket.TextMessage, c.events[idx].frame); err != nil {
				break
			}
			c.frames++
			inflight = append(inflight, idx)
			c.inflight.Add(1)
			pos++
		}
		c.mu.Unlock()
		select {
		case <-stop:
			return
		case <-tick.C:
		case a, ok := <-answers:
			if !ok {
				c.mu.Lock()
				c.unanswered[c.relay.endedBy(relayGen)] += len(inflight)
				c.mu.Unlock()
				return
			}
			if a.Type == "draining" {
				// As the hook does: what is not acknowledged goes out
				// again on the next connection.
				draining = true
				continue
			}
			c.mu.Lock()
			if len(inflight) == 0 || c.events[inflight[0]].id != a.ID {
				c.refused = append(c.refused, "an answer out of order: "+a.ID)
				c.mu.Unlock()
				return
			}
			idx := inflight[0]
			inflight = inflight[1:]
			c.inflight.Add(-1)
			switch {
			case a.Type == "ack":
				c.acked[a.ID] = a.Status
				for i, o := range c.outbox {
					if o == idx {
						c.outbox = append(c.outbox[:i], c.outbox[i+1:]...)
						if i < pos {
							pos--
						}
						break
					}
				}
			case a.Retry:
				c.retried++
				held = true
			default:
				c.refused = append(c.refused, a.Code)
			}
			if held && len(inflight) == 0 {
				// Everything sent was answered: start again from the oldest.
				held, pos = false, 0
				c.mu.Unlock()
				time.Sleep(100 * time.Millisecond)
				continue
			}
			c.mu.Unlock()
		}
	}
}

// faultRelay is the relay binary, started again after each stop.
type faultRelay struct {
	bin, addr, natsURL, log string

	mu    sync.Mutex
	cmd   *exec.Cmd
	gen   int
	ended map[int]string // generation -> how it ended: term, kill
	exits chan error
}

func (r *faultRelay) generation() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// endedBy says how relay generation gen ended, as far as the test knows.
func (r *faultRelay) endedBy(gen int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if how, ok := r.ended[gen]; ok {
		return how
	}
	return "other"
}

// start runs the relay and waits until /readyz answers 200: its state is
// restored by then.
func (r *faultRelay) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(r.bin, "--addr", r.addr, "--nats-url", r.natsURL, "--demo", "off",
		"--publish-timeout", "2s", "--shutdown-timeout", "5s", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exits := make(chan error, 1)
	go func() { exits <- cmd.Wait() }()
	r.mu.Lock()
	r.cmd, r.exits = cmd, exits
	r.gen++
	if r.ended == nil {
		r.ended = map[int]string{}
	}
	r.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exits:
			t.Fatalf("relay exited at start: %v\n%s", err, tailFile(r.log, 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay not ready within 30s\n%s", tailFile(r.log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill stops the relay with SIGKILL; safe when it is not running.
func (r *faultRelay) kill() {
	r.mu.Lock()
	cmd, exits := r.cmd, r.exits
	r.ended[r.gen] = "kill"
	r.cmd = nil
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exits
	}
}

// term stops the relay with SIGTERM and returns its exit error.
func (r *faultRelay) term() error {
	r.mu.Lock()
	cmd, exits := r.cmd, r.exits
	r.ended[r.gen] = "term"
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exits:
		return err
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exits
		return fmt.Errorf("no exit within 20s of SIGTERM")
	}
}

// faultNATS is a nats-server process with JetStream on a fixed port and
// store, started again after each kill.
type faultNATS struct {
	bin, dir, log string
	port          int

	mu    sync.Mutex
	cmd   *exec.Cmd
	exits chan error
}

func (n *faultNATS) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// start runs nats-server and waits until JetStream answers.
func (n *faultNATS) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(n.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", n.dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exits := make(chan error, 1)
	go func() { exits <- cmd.Wait() }()
	n.mu.Lock()
	n.cmd, n.exits = cmd, exits
	n.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if jetStreamUp(n.url()) {
			return
		}
		select {
		case err := <-exits:
			t.Fatalf("nats-server exited at start: %v\n%s", err, tailFile(n.log, 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server not ready within 30s\n%s", tailFile(n.log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jetStreamUp reports whether the server at url answers JetStream requests.
func jetStreamUp(url string) bool {
	nc, err := nats.Connect(url, nats.Timeout(time.Second))
	if err != nil {
		return false
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err == nil
}

// kill stops nats-server with SIGKILL; safe when it is not running.
func (n *faultNATS) kill() {
	n.mu.Lock()
	cmd, exits := n.cmd, n.exits
	n.cmd = nil
	n.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exits
	}
}

// faultPort returns a TCP port that was free a moment ago.
func faultPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// tailFile returns the last n lines of a log file.
func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
