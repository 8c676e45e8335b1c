package demo_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/demo"
)

// MustNATS starts an in-process NATS server on a free port and connects.
func MustNATS(tb testing.TB) *nats.Conn {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		tb.Fatal(err)
	}
	srv.Start()
	tb.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// MustDemo builds a demo on nc, served by an httptest server.
func MustDemo(tb testing.TB, nc *nats.Conn, maxClients int) (*demo.Demo, *httptest.Server) {
	tb.Helper()
	d, err := demo.New(nc, demo.Config{
		Subject: "agentcall.default.>", WorkbenchURL: "http://127.0.0.1:8081/", WorkbenchOrigin: "http://127.0.0.1:8081",
		Backlog: 3, MaxClients: maxClients, Logger: zerolog.Nop(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/demo", d)
	mux.Handle("/demo/", d)
	ts := httptest.NewServer(mux)
	tb.Cleanup(func() { _ = d.Close(); ts.Close() })
	return d, ts
}

func TestPageIncludesTheHookAsAnIntegratorWould(t *testing.T) {
	_, ts := MustDemo(t, MustNATS(t), 0)
	res, err := http.Get(ts.URL + "/demo")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	host := strings.TrimPrefix(ts.URL, "http://")
	for _, want := range []string{
		`<script src="http://` + host + `/hook.js" data-relay="ws://` + host + `/v1/ws" data-backoff-max-ms="2000" async></script>`,
		`<iframe id="workbench" src="http://127.0.0.1:8081/"`,
		`/demo/demo.js`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("got Content-Type %q, want text/html", ct)
	}
	for path, ct := range map[string]string{"/demo/demo.js": "text/javascript; charset=utf-8", "/demo/demo.css": "text/css; charset=utf-8"} {
		res, err := http.Get(ts.URL + path)
		if err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != ct {
			t.Errorf("GET %s: got %v %v, want 200 %s", path, res.Status, err, ct)
		}
		res.Body.Close()
	}
	if res, _ := http.Get(ts.URL + "/demo/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /demo/nope: got %d, want 404", res.StatusCode)
	}
}

// sse reads server-sent events, sending each data line to a channel.
func sse(t *testing.T, ctx context.Context, url, lastID string) (<-chan string, *http.Response) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, res
	}
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		id := ""
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				ch <- id + " " + v
			}
		}
	}()
	return ch, res
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return ""
}

func TestFeedStreamsWhatReachesNATS(t *testing.T) {
	nc := MustNATS(t)
	d, ts := MustDemo(t, nc, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, res := sse(t, ctx, ts.URL+"/demo/feed", "")
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("got Content-Type %q, want text/event-stream", ct)
	}
	for _, m := range []string{`{"id":"a"}`, `{"id":"b"}`, "not json", `{"id":"d"}`} {
		if err := nc.Publish("agentcall.default.callBarEvent.EventRinging", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	_ = nc.Publish("other.subject", []byte(`{"id":"x"}`))
	_ = nc.Flush()
	want := []string{
		`1 {"subject":"agentcall.default.callBarEvent.EventRinging","data":{"id":"a"}}`,
		`2 {"subject":"agentcall.default.callBarEvent.EventRinging","data":{"id":"b"}}`,
		`3 {"subject":"agentcall.default.callBarEvent.EventRinging","data":"not json"}`,
		`4 {"subject":"agentcall.default.callBarEvent.EventRinging","data":{"id":"d"}}`,
	}
	for _, w := range want {
		if got := next(t, ch); got != w {
			t.Errorf("got %s, want %s", got, w)
		}
	}

	// A new panel gets the backlog (3 kept); one resuming gets what it missed.
	ch2, _ := sse(t, ctx, ts.URL+"/demo/feed", "")
	for _, w := range want[1:] {
		if got := next(t, ch2); got != w {
			t.Errorf("backlog: got %s, want %s", got, w)
		}
	}
	// The panels are bounded.
	if _, res := sse(t, ctx, ts.URL+"/demo/feed", "3"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third panel: got %d, want 503", res.StatusCode)
	}
	cancel()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	time.Sleep(100 * time.Millisecond) // the cancelled streams unsubscribe
	ch3, _ := sse(t, ctx2, ts.URL+"/demo/feed", "3")
	if got := next(t, ch3); got != want[3] {
		t.Errorf("resume after 3: got %s, want %s", got, want[3])
	}

	// Close ends the open streams at once.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-ch3:
		if ok {
			t.Error("got an event after Close, want the stream ended")
		}
	case <-time.After(5 * time.Second):
		t.Error("stream still open 5s after Close")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A panel that does not read cannot hold up NATS or the other panels.
func TestFeedNeverBlocksOnASlowPanel(t *testing.T) {
	nc := MustNATS(t)
	_, ts := MustDemo(t, nc, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/demo/feed", nil)
	slow, err := http.DefaultClient.Do(req) // never read
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Body.Close()
	big := `{"pad":"` + strings.Repeat("x", 16<<10) + `"}`
	for i := 0; i < 300; i++ {
		_ = nc.Publish("agentcall.default.iframeParams", []byte(big))
	}
	_ = nc.Publish("agentcall.default.callBarEvent.EventReleased", []byte(`{"id":"last"}`))
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		t.Fatalf("NATS flush: %v", err)
	}
	// A fresh panel still gets the newest message promptly.
	fresh, _ := sse(t, ctx, ts.URL+"/demo/feed", "")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-fresh:
			if strings.Contains(s, `"last"`) {
				return
			}
		case <-deadline:
			t.Fatal("the newest message did not reach a fresh panel within 10s")
		}
	}
}

func TestWorkbenchServesTheSimulator(t *testing.T) {
	ts := httptest.NewServer(demo.Workbench())
	defer ts.Close()
	for path, want := range map[string]string{"/": "simulator.js", "/simulator.js": "callrelaySimulator"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: got %d, want 200 with %q", path, res.StatusCode, want)
		}
	}
	if res, _ := http.Get(ts.URL + "/hook.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /hook.js on the workbench: got %d, want 404", res.StatusCode)
	}
}

// The page refuses to be framed, has an icon, and answers only to a
// loopback Host (a DNS-rebinding page sends its own name).
func TestPageIsLocalUnframedAndHasAnIcon(t *testing.T) {
	_, ts := MustDemo(t, MustNATS(t), 0)
	res, err := http.Get(ts.URL + "/demo")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if got := res.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options: got %q, want DENY", got)
	}
	if got := res.Header.Get("Content-Security-Policy"); got != "frame-ancestors 'none'" {
		t.Errorf("Content-Security-Policy: got %q", got)
	}
	if !strings.Contains(string(body), `<link rel="icon" href="/demo/favicon.svg"`) {
		t.Error("the page names no icon")
	}
	res, err = http.Get(ts.URL + "/demo/favicon.svg")
	if err != nil {
		t.Fatal(err)
	}
	icon, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(string(icon), "<svg") {
		t.Errorf("GET /demo/favicon.svg: got %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/demo", "/demo/feed", "/demo/demo.js"} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Host = "rebound.example.com"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s with Host rebound.example.com: got %d, want 403", path, res.StatusCode)
		}
	}
}
