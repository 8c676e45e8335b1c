package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// tailNATS is an embedded NATS server on a fixed port (so that it can be
// restarted where tail reconnects), with the relay's stream, and a JetStream
// sink publishing into it as the relay does.
type tailNATS struct {
	port  int
	store string
	srv   *sinks.Embedded
	nc    *nats.Conn
	sink  *sinks.JetStream
}

func mustTailNATS(t *testing.T) *tailNATS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &tailNATS{port: ln.Addr().(*net.TCPAddr).Port, store: t.TempDir()}
	_ = ln.Close()
	n.start(t)
	t.Cleanup(func() { n.stop() })
	return n
}

func (n *tailNATS) start(t *testing.T) {
	t.Helper()
	srv, err := sinks.NewEmbedded(sinks.EmbeddedConfig{Host: "127.0.0.1", Port: n.port, StoreDir: n.store, JetStream: true, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	n.srv = srv
	if n.nc, err = nats.Connect(srv.ClientURL()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n.sink, err = sinks.NewJetStream(ctx, n.nc, sinks.StreamConfig{Name: "AGENTCALL", Subjects: []string{"agentcall.>"}}, 0); err != nil {
		t.Fatal(err)
	}
}

func (n *tailNATS) stop() {
	if n.srv == nil {
		return
	}
	n.sink.Close()
	n.nc.Close()
	_ = n.srv.Close()
	n.srv = nil
}

func (n *tailNATS) url() string { return n.srv.ClientURL() }

// publish stores a message as the relay would, with its CloudEvents headers.
func (n *tailNATS) publish(t *testing.T, subject, id, callID, body string) {
	t.Helper()
	done := make(chan error, 1)
	n.sink.Publish(relay.Envelope{
		Subject: subject, ID: id, Type: "com.sobot.agentcall." + strings.TrimPrefix(subject, "agentcall.default."),
		Source: "/callrelay/agentcall/default", CallID: callID, Time: "2026-11-21T09:30:00.25Z", Data: []byte(body),
	}, tailDone(done), 0)
	if err := <-done; err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

type tailDone chan error

func (d tailDone) Published(_ int, _ bool, err error) { d <- err }

// lines returns the lines of r as they come.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	return ch
}

// next returns the next line of ch, failing after 20s.
func next(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	select {
	case l, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the output ended", what)
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: nothing after 20s", what)
	}
	return ""
}

const (
	ringSubject = "agentcall.default.callBarEvent.EventRinging"
	ringBody    = `{"id":"first-1","tenant":"default","type":"callBarEvent","messageID":"EventRinging","callId":"7350120230001","seenAt":"2026-11-21T09:30:00.25Z","receivedAt":"2026-11-21T09:30:00.26Z","params":{"messageID":"EventRinging"}}`
	viewBody    = `{"tenant":"default","callId":"7350120230001","state":"ringing","direction":"inbound","revision":1,"updatedAt":"2026-11-21T09:30:00.26Z"}`
)

// --all replays the stream first, then follows; --format text prints a
// readable line per message with its subject.
func TestTailReplaysAllAsText(t *testing.T) {
	bin := MustBuild(t)
	n := mustTailNATS(t)
	n.publish(t, ringSubject, "first-1", "7350120230001", ringBody)
	n.publish(t, "agentcall.default.call", "call:k:1:1", "7350120230001", viewBody)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "tail", "--nats-url", n.url(), "--all", "--format", "text", "-n", "3")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	errs, out := lines(stderr), lines(stdout)
	if l := next(t, errs, "stderr"); !strings.Contains(l, "replaying agentcall.default.> from the start of the stream (stream AGENTCALL), then following") {
		t.Errorf("stderr: got %q, want the replay announced", l)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}  agentcall\.default\.callBarEvent\.EventRinging  event=EventRinging call=7350120230001 id=first-1$`),
		regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}  agentcall\.default\.call  call=7350120230001 state=ringing direction=inbound revision=1$`),
	} {
		if l := next(t, out, "replayed line"); !want.MatchString(l) {
			t.Errorf("got %q, want it to match %s", l, want)
		}
	}
	// Then it follows: a message published now is the third line.
	n.publish(t, "agentcall.default.rejected", "rejected:bad-1", "", `{"id":"bad-1","code":"invalid_field","message":"callID must be a string"}`)
	if l := next(t, out, "followed line"); !strings.HasSuffix(l, `  agentcall.default.rejected  id=bad-1 code=invalid_field reason="callID must be a string"`) {
		t.Errorf("got %q, want the refused event", l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tail -n 3 exited with %v", err)
	}
}

// --since replays from a time; the json format carries each subject; a
// --since that is neither a duration nor a time names the flag.
func TestTailSinceAsJSON(t *testing.T) {
	bin := MustBuild(t)
	n := mustTailNATS(t)
	n.publish(t, ringSubject, "first-1", "7350120230001", ringBody)

	out, err := exec.Command(bin, "tail", "--nats-url", n.url(), "--since", "1h", "-n", "1").Output()
	if err != nil {
		t.Fatalf("tail --since 1h: %v", err)
	}
	if want := `{"subject":"` + ringSubject + `",` + ringBody[1:] + "\n"; string(out) != want {
		t.Errorf("got %s, want the message with its subject first: %s", out, want)
	}
	var line map[string]any
	if err := json.Unmarshal(out, &line); err != nil || line["subject"] != ringSubject || line["id"] != "first-1" {
		t.Errorf("got %s (%v), want a JSON object with subject and id", out, err)
	}

	out, err = exec.Command(bin, "tail", "--nats-url", n.url(), "--since", "yesterday").CombinedOutput()
	if want := `relay: --since "yesterday": want a positive duration (10m, 2h) or an RFC 3339 time (2026-11-21T09:30:00Z)`; err == nil || !strings.Contains(string(out), want) {
		t.Errorf("got %v %s, want %s", err, out, want)
	}
	out, err = exec.Command(bin, "tail", "--nats-url", n.url(), "--since", "1h", "--all").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--all and --since: give one of them") {
		t.Errorf("got %v %s, want --all and --since refused together", err, out)
	}
}

// tail says when it lost the server and when it is back, and goes on.
func TestTailSaysWhenItReconnects(t *testing.T) {
	bin := MustBuild(t)
	n := mustTailNATS(t)
	url := n.url()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "tail", "--nats-url", url, "-n", "1")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	errs, out := lines(stderr), lines(stdout)
	if l := next(t, errs, "start"); !strings.Contains(l, "following agentcall.default.>") {
		t.Fatalf("got %q, want following", l)
	}
	n.stop()
	if l := next(t, errs, "disconnect"); !strings.Contains(l, "relay tail: disconnected from "+url) || !strings.Contains(l, "reconnecting") {
		t.Errorf("got %q, want the disconnect", l)
	}
	n.start(t)
	if l := next(t, errs, "reconnect"); l != "relay tail: reconnected to "+url+"; following agentcall.default.> again" {
		t.Errorf("got %q, want the reconnect", l)
	}
	// The subscription is back: publish until tail prints (the server may
	// take a moment to see it again).
	for i := 0; ; i++ {
		n.publish(t, ringSubject, "after-"+time.Now().Format("150405.000000"), "7350120230001", ringBody)
		select {
		case l := <-out:
			if !strings.Contains(l, `"subject":"`+ringSubject+`"`) {
				t.Errorf("got %q, want the event", l)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("tail exited with %v", err)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if i > 100 {
			t.Fatal("tail printed nothing after the reconnect")
		}
	}
}
