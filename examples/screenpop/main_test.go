package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// Two calls, a restart in the middle, redeliveries and repeats: each call
// pops exactly once, with the customer and the agent.
func TestPopsEachCallOnce(t *testing.T) {
	bin := MustBuild(t)
	srv, nc := MustServer(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The relay's own sink and stream, so that the messages carry the
	// relay's headers, CloudEvents attributes included.
	sink, err := sinks.NewJetStream(ctx, nc, sinks.StreamConfig{
		Name: "AGENTCALL", Subjects: []string{"agentcall.>"}, Duplicates: 10 * time.Minute,
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	pub := func(subject, id string, v any) {
		t.Helper()
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			CallID string `json:"callId"`
		}
		_ = json.Unmarshal(data, &body)
		done := make(chan error, 1)
		sink.Publish(relay.Envelope{
			Subject: subject, ID: id, Type: "com.sobot.agentcall." + strings.TrimPrefix(subject, "agentcall.default."),
			Source: "/callrelay/agentcall/default", CallID: body.CallID, Time: time.Now().UTC().Format(time.RFC3339Nano), Data: data,
		}, completion(done), 0)
		if err := <-done; err != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
	}

	var out lines
	sp := start(t, bin, srv.ClientURL(), &out)

	// Call A: talk details first, so the ringing event knows the customer.
	pub("agentcall.default.iframeParams", "a-1", relayEvent("a-1", "", "CALL-A", talkA, nil))
	pub("agentcall.default.callBarEvent.EventRinging", "a-2", relayEvent("a-2", "EventRinging", "CALL-A", nil, talkA))
	pub("agentcall.default.call", "a-2-call", callView("CALL-A", "ringing", 1, "P-1001", "13800138000"))
	pub("agentcall.default.callBarEvent.EventEstablished", "a-3", relayEvent("a-3", "EventEstablished", "CALL-A", nil, talkA))
	pub("agentcall.default.call", "a-3-call", callView("CALL-A", "established", 2, "P-1001", "13800138000"))
	out.WaitFor(t, "CALL-A", 20*time.Second)
	waitDrained(t, ctx, js)
	sp.Stop(t)

	// While it is down: call A ends and is published again by another
	// relay replica (other message ids), and call B rings before its talk
	// details are known.
	pub("agentcall.default.callBarEvent.EventEstablished", "a-3-replica", relayEvent("a-3-replica", "EventEstablished", "CALL-A", nil, talkA))
	pub("agentcall.default.call", "a-4-call", callView("CALL-A", "released", 3, "P-1001", "13800138000"))
	pub("agentcall.default.callBarEvent.EventRinging", "b-1", relayEvent("b-1", "EventRinging", "CALL-B", nil, nil))
	pub("agentcall.default.call", "b-1-call", callView("CALL-B", "ringing", 1, "", ""))

	sp = start(t, bin, srv.ClientURL(), &out)
	pub("agentcall.default.iframeParams", "b-2", relayEvent("b-2", "", "CALL-B", talkB, nil))
	pub("agentcall.default.call", "b-2-call", callView("CALL-B", "ringing", 2, "P-2002", "13900139000"))
	pub("agentcall.default.callBarEvent.EventEstablished", "b-3", relayEvent("b-3", "EventEstablished", "CALL-B", nil, talkB))
	pub("agentcall.default.call", "b-3-call", callView("CALL-B", "established", 3, "P-2002", "13900139000"))
	out.WaitFor(t, "CALL-B", 20*time.Second)
	waitDrained(t, ctx, js)
	sp.Stop(t)

	// A third start with nothing new pops nothing.
	sp = start(t, bin, srv.ClientURL(), &out)
	waitDrained(t, ctx, js)
	sp.Stop(t)

	got := out.All()
	want := []string{
		"pop customer P-1001 / 138****8000 for agent agent01@example.com (call CALL-A)",
		"pop customer P-2002 / 139****9000 for agent agent02@example.com (call CALL-B)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got pops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

var (
	talkA = map[string]any{"partnerId": "P-1001", "uphone": "13800138000", "encryptUphone": nil, "email": "agent01@example.com", "callType": "2", "callId": "CALL-A"}
	talkB = map[string]any{"partnerId": "P-2002", "uphone": "13900139000", "encryptUphone": nil, "email": "agent02@example.com", "callType": "2", "callId": "CALL-B"}
)

// relayEvent is an event as the relay publishes it (events.Event): talk
// details when params is given, a phone-bar event with the correlated talk
// details when talk is given.
func relayEvent(id, messageID, callID string, params, talk map[string]any) *events.Event {
	e := &events.Event{ID: id, Tenant: "default", CallID: callID, SeenAt: time.Now().UTC(), ReceivedAt: time.Now().UTC()}
	if messageID == "" {
		e.Type = events.TypeIframeParams
		e.Params, _ = json.Marshal(params)
		e.Agent = &events.Agent{Email: fmt.Sprint(params["email"])}
		return e
	}
	e.Type, e.MessageID = events.TypeCallBarEvent, messageID
	e.Params, _ = json.Marshal(map[string]any{"messageID": messageID, "callID": callID, "agentID": "1001"})
	e.Agent = &events.Agent{ID: "1001"}
	if talk != nil {
		e.Talk, _ = json.Marshal(talk)
		e.Agent.Email = fmt.Sprint(talk["email"])
	}
	return e
}

// callView is the relay's call view (events/schema/call.schema.json).
func callView(callID, state string, revision int, partnerID, phone string) map[string]any {
	v := map[string]any{
		"tenant": "default", "callId": callID, "state": state, "direction": "inbound",
		"talkDetails": partnerID != "", "messageIDs": []string{"EventRinging"}, "revision": revision,
		"updatedAt": time.Now().UTC(),
	}
	if partnerID != "" {
		v["customer"] = map[string]any{"partnerId": partnerID, "uphone": phone}
		v["agent"] = map[string]any{"email": map[string]string{"P-1001": "agent01@example.com", "P-2002": "agent02@example.com"}[partnerID]}
	}
	return v
}

// completion is a relay.Completion that hands the outcome to a channel.
type completion chan error

func (c completion) Published(_ int, _ bool, err error) { c <- err }

// MustBuild builds the example once per test.
func MustBuild(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "screenpop")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is a running screenpop.
type proc struct {
	cmd  *exec.Cmd
	done chan error
	logs *lines
}

// start runs screenpop against url, collecting its pops in out, and waits
// at most 20s until it is consuming.
func start(t *testing.T, bin, url string, out *lines) *proc {
	t.Helper()
	cmd := exec.Command(bin, "--nats-url", url)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1), logs: &lines{}}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); out.ReadFrom(stdout) }()
	go func() { defer wg.Done(); p.logs.ReadFrom(stderr) }()
	go func() { wg.Wait(); p.done <- cmd.Wait() }()
	p.logs.WaitFor(t, "screenpop ready", 20*time.Second)
	return p
}

// Stop sends SIGTERM and waits at most 20s for a clean exit.
func (p *proc) Stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("screenpop exited with %v; logs:\n%s", err, strings.Join(p.logs.All(), "\n"))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("screenpop did not stop within 20s of SIGTERM")
	}
}

// waitDrained waits at most 20s until the consumer has nothing pending or
// unacknowledged.
func waitDrained(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cons, err := js.Consumer(ctx, "AGENTCALL", "screenpop")
		if err == nil {
			info, err := cons.Info(ctx)
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer not drained after 20s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lines collects the lines of a reader.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) ReadFrom(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l.mu.Lock()
		l.l = append(l.l, sc.Text())
		l.mu.Unlock()
	}
}

func (l *lines) All() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

// WaitFor waits until a line contains s, at most timeout.
func (l *lines) WaitFor(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range l.All() {
			if strings.Contains(line, s) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line with %q after %s; got:\n%s", s, timeout, strings.Join(l.All(), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MustServer starts an embedded JetStream server and connects to it; both
// end with the test.
func MustServer(t *testing.T) (*sinks.Embedded, *nats.Conn) {
	t.Helper()
	srv, err := sinks.NewEmbedded(sinks.EmbeddedConfig{Port: -1, JetStream: true, StoreDir: t.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return srv, nc
}
