package relay_test

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callrelay/callrelay/relay"
)

// mustMetric fails unless the relay's /metrics has the line want.
func (tr *testRelay) mustMetric(tb testing.TB, want string) {
	tb.Helper()
	// Counted by the connection's goroutine as it ends, which may be just
	// after the client saw the close: wait for it, within eventually's limit.
	eventually(tb, "metrics with "+want, func() bool {
		_, body := tr.get(tb, "/metrics")
		return strings.Contains(body, want+"\n")
	})
}

// Talk details over the talk limit are refused for good and recorded;
// those within it are published.
func TestTalkDetailsOverTheLimitAreRefused(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	if a := c.Call(t, "talk-ok", iframeParams(map[string]any{"notes": strings.Repeat("x", 7000)})); a.Status != relay.StatusPublished {
		t.Fatalf("7000 bytes of notes: got %+v, want published", a)
	}
	a := c.Call(t, "talk-big", iframeParams(map[string]any{"callId": "CALL-BIG", "notes": strings.Repeat("x", 9000)}))
	if a.Type != "nack" || a.Code != relay.CodeTalkTooLarge || a.Retry {
		t.Fatalf("9000 bytes of notes: got %+v, want nack %s retry:false", a, relay.CodeTalkTooLarge)
	}
	rejected := tr.published(t, "agentcall.default.rejected")
	if len(rejected) != 1 || rejected[0]["id"] != "talk-big" || rejected[0]["code"] != relay.CodeTalkTooLarge {
		t.Errorf("rejected subject: got %v, want talk-big with %s", rejected, relay.CodeTalkTooLarge)
	}
	tr.mustMetric(t, `callrelay_events_rejected_total{code="talk_too_large"} 1`)
}

// A creationTime far from the relay's clock is refused, so that a logout
// dated years ahead cannot freeze an agent's state.
func TestCreationTimeBeyondTheSkewIsRefused(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.MaxClockSkew = relay.DefaultMaxClockSkew })
	c := tr.MustDial(t)
	now := time.Now()
	for _, tc := range []struct {
		id   string
		at   time.Time
		want string
	}{
		{"ct-now", now, ""},
		{"ct-hour-ago", now.Add(-time.Hour), ""},
		{"ct-ten-years-ahead", now.AddDate(10, 0, 0), relay.CodeInvalidCreationTime},
		{"ct-two-days-ago", now.Add(-48 * time.Hour), relay.CodeInvalidCreationTime},
	} {
		a := c.Call(t, tc.id, callBar("EventAgentLogout", map[string]any{"creationTime": tc.at.UnixMilli()}))
		switch {
		case tc.want == "" && a.Status != relay.StatusPublished:
			t.Errorf("%s: got %+v, want published", tc.id, a)
		case tc.want != "" && (a.Code != tc.want || a.Retry):
			t.Errorf("%s: got %+v, want nack %s retry:false", tc.id, a, tc.want)
		}
	}
	tr.mustMetric(t, `callrelay_events_rejected_total{code="invalid_creation_time"} 2`)
}

// Beyond its burst a connection's events are answered rate_limited with
// retry:true, and the order rule holds the ones after it.
func TestEventsOverTheRateAreAnsweredRateLimited(t *testing.T) {
	// One token per 100 s: nothing refills while the test runs.
	tr := MustRelay(t, func(c *relay.Config) { c.RateLimit, c.RateBurst = 0.01, 3 })
	c := tr.MustDial(t)
	for i, id := range []string{"rl-1", "rl-2", "rl-3", "rl-4"} {
		c.SendEvent(t, id, callBar("EventAgentReady", map[string]any{"referenceID": i}))
	}
	want := []struct{ status, code string }{{"published", ""}, {"published", ""}, {"published", ""}, {"", relay.CodeRateLimited}}
	for i, w := range want {
		a := c.Read(t)
		if a.Status != w.status || a.Code != w.code || (w.code != "" && !a.Retry) {
			t.Errorf("answer %d: got %+v, want status %q code %q", i+1, a, w.status, w.code)
		}
	}
	// Answered after rl-4's nack: held behind it, not counted again.
	if a := c.Call(t, "rl-5", callBar("EventAgentNotReady", nil)); a.Code != relay.CodeHeldForOrder || !a.Retry {
		t.Errorf("after the refusal: got %+v, want %s", a, relay.CodeHeldForOrder)
	}
	tr.mustMetric(t, `callrelay_events_retryable_total{code="rate_limited"} 1`)
	// Another connection has its own bucket.
	if a := tr.MustDial(t).Call(t, "rl-other", callBar("EventAgentReady", nil)); a.Status != relay.StatusPublished {
		t.Errorf("second connection: got %+v, want published", a)
	}
}

// Beyond the connection cap an upgrade is answered 503 with a JSON body
// before it happens; a slot that frees up can be taken again.
func TestConnectionsOverTheCapAreRefused(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.MaxConnections = 2 })
	first := tr.MustDial(t)
	tr.MustDial(t)
	_, resp, err := tr.dial(tr.base)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection: got err %v, response %v; want 503", err, resp)
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error.Code != relay.CodeTooManyConns {
		t.Errorf("503 body: got %+v (%v), want code %s", body, err, relay.CodeTooManyConns)
	}
	tr.mustMetric(t, `callrelay_connections_closed_total{reason="too_many_connections"} 1`)
	_ = first.ws.Close()
	eventually(t, "a connection after one closed", func() bool {
		c, _, err := tr.dial(tr.base)
		if err == nil {
			_ = c.ws.Close()
		}
		return err == nil
	})
}

// A frame whose header declares 100 MiB is refused as soon as the header
// is read, with 1009 and the reason, however slowly its payload trickles.
func TestOversizeFrameHeaderClosesAtOnce(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.PongWait, c.PingInterval = 10*time.Minute, 5*time.Minute })
	conn, err := net.Dial("tcp", strings.TrimPrefix(tr.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	_, err = io.WriteString(conn, "GET /v1/ws HTTP/1.1\r\nHost: "+strings.TrimPrefix(tr.base, "http://")+
		"\r\nOrigin: "+tr.base+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "+key+
		"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: got %v %v, want 101", resp, err)
	}
	// A masked final text frame declaring 100 MiB, then a trickle of it.
	header := []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	binary.BigEndian.PutUint64(header[2:10], 100<<20)
	if _, err := conn.Write(append(header, 'x')); err != nil {
		t.Fatal(err)
	}
	// The relay closes long before the 10-minute keep-alive; the deadline
	// only keeps a broken relay from hanging the test.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var codes []int
	reason := ""
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			break
		}
		payload := make([]byte, h[1]&0x7f) // the relay's frames here are short
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatalf("read frame: %v", err)
		}
		if h[0]&0x0f == 0x8 && len(payload) >= 2 {
			codes = append(codes, int(binary.BigEndian.Uint16(payload)))
			if len(payload) > 2 {
				reason = string(payload[2:])
			}
		}
	}
	if len(codes) != 1 || codes[0] != 1009 {
		t.Fatalf("got close codes %v, want one close frame, 1009", codes)
	}
	if want := "frame larger than 65536 bytes"; reason != want {
		t.Errorf("got close reason %q, want %q", reason, want)
	}
	tr.mustMetric(t, `callrelay_connections_closed_total{reason="too_large"} 1`)
}
