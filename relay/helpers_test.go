package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// testRelay is a relay on a random port with its own embedded NATS server
// (JetStream, file store in a temp dir) and a JetStream sink.
type testRelay struct {
	srv      *relay.Server
	base     string // http://127.0.0.1:port
	ns       *sinks.Embedded
	natsPort int
	storeDir string
	nc       *nats.Conn // the relay's connection
	obs      *nats.Conn // the test's own connection, for reading
	js       jetstream.JetStream
	reg      *prometheus.Registry
	logs     *syncBuffer
}

type relayOption func(*relay.Config)

// MustRelay starts a relay with its own embedded NATS server (file store,
// so a test can restart the server over the same data) and memory state.
func MustRelay(tb testing.TB, opts ...relayOption) *testRelay {
	tb.Helper()
	tr := &testRelay{storeDir: tb.TempDir(), logs: &syncBuffer{}}
	tr.startNATS(tb, -1)
	tb.Cleanup(func() { _ = tr.ns.Close() }) // registered first: runs last
	defaults := func(c *relay.Config) { c.PublishTimeout = 2 * time.Second }
	tr.start(tb, nil, append([]relayOption{defaults}, opts...)...)
	return tr
}

// start runs a relay on tr.ns: its own NATS connection and JetStream sink,
// the state made by state (nil: memory), an HTTP listener on a random port,
// and an observer connection for the test; all closed at cleanup.
func (tr *testRelay) start(tb testing.TB, state func(*nats.Conn) correlate.State, opts ...relayOption) {
	tb.Helper()
	log := zerolog.New(tr.logs).Level(zerolog.DebugLevel)
	nc, err := sinks.Connect(tr.ns.ClientURL(), sinks.ConnectOptions{Name: "relay-under-test", Logger: log})
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tr.nc = nc
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sink, err := sinks.NewJetStream(ctx, nc, sinks.StreamConfig{Name: "AGENTCALL", Subjects: []string{"agentcall.>"}}, 0)
	if err != nil {
		tb.Fatalf("jetstream sink: %v", err)
	}
	// The fixtures' creationTimes are fixed dates, and many tests send
	// hundreds of events at once: the skew and rate bounds have tests of
	// their own (limits_test.go), which set them.
	cfg := relay.Config{MaxClockSkew: 20 * 365 * 24 * time.Hour, RateLimit: 1e6, RateBurst: 1e6}
	for _, o := range opts {
		o(&cfg)
	}
	var ropts []relay.Option
	if state != nil {
		ropts = append(ropts, relay.WithState(state(nc)))
	}
	tr.reg = prometheus.NewRegistry()
	srv, err := relay.New(cfg, sink, log, tr.reg, ropts...)
	if err != nil {
		tb.Fatalf("relay.New: %v", err)
	}
	tr.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	tr.base = "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	obs, err := nats.Connect(tr.ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
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
}

// startNATS starts the embedded server on port (-1: random) over storeDir.
func (tr *testRelay) startNATS(tb testing.TB, port int) {
	tb.Helper()
	ns, err := sinks.NewEmbedded(sinks.EmbeddedConfig{Host: "127.0.0.1", Port: port, StoreDir: tr.storeDir, JetStream: true, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatalf("embedded: %v", err)
	}
	if err := ns.Start(10 * time.Second); err != nil {
		tb.Fatalf("embedded start: %v", err)
	}
	tr.ns = ns
	u, _ := url.Parse(ns.ClientURL())
	tr.natsPort, _ = strconv.Atoi(u.Port())
}

func (tr *testRelay) wsURL() string { return "ws" + strings.TrimPrefix(tr.base, "http") + "/v1/ws" }

// MustDial opens a WebSocket with the relay's own origin.
func (tr *testRelay) MustDial(tb testing.TB) *wsClient {
	tb.Helper()
	c, resp, err := tr.dial(tr.base)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		tb.Fatalf("dial: %v (status %d)", err, status)
	}
	tb.Cleanup(func() { _ = c.ws.Close() })
	return c
}

func (tr *testRelay) dial(origin string) (*wsClient, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(tr.wsURL(), h)
	if err != nil {
		return nil, resp, err
	}
	return &wsClient{ws: ws}, resp, nil
}

// wsClient is a test WebSocket client speaking the relay's protocol.
type wsClient struct{ ws *websocket.Conn }

type answer struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Status  string `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Retry   bool   `json:"retry"`
}

// SendEvent writes one event frame.
func (c *wsClient) SendEvent(tb testing.TB, id string, data any) {
	tb.Helper()
	c.SendRaw(tb, eventFrame(id, data))
}

func (c *wsClient) SendRaw(tb testing.TB, frame []byte) {
	tb.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		tb.Fatalf("write: %v", err)
	}
}

// Read reads the next answer (or welcome), skipping the relay's notices
// (resume, draining), which answer nothing.
func (c *wsClient) Read(tb testing.TB) answer {
	tb.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			tb.Fatalf("read answer: %v", err)
		}
		var a answer
		if err := json.Unmarshal(data, &a); err != nil {
			tb.Fatalf("answer %s: %v", data, err)
		}
		if a.Type != "resume" && a.Type != "draining" {
			return a
		}
	}
}

// Call sends one event and returns its answer.
func (c *wsClient) Call(tb testing.TB, id string, data any) answer {
	tb.Helper()
	c.SendEvent(tb, id, data)
	return c.Read(tb)
}

// ReadClose reads until the connection ends and returns the close error.
func (c *wsClient) ReadClose(tb testing.TB) *websocket.CloseError {
	tb.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			tb.Fatalf("got %v, want a close frame", err)
		}
		return ce
	}
}

var seenAt = "2026-11-21T09:30:00.123Z"

func eventFrame(id string, data any) []byte {
	b, err := json.Marshal(map[string]any{"type": "event", "id": id, "seenAt": seenAt, "data": data})
	if err != nil {
		panic(err)
	}
	return b
}

func callBar(messageID string, extra map[string]any) map[string]any {
	params := map[string]any{"messageID": messageID, "creationTime": 1763717400123, "companyId": "cmp-01"}
	for k, v := range extra {
		params[k] = v
	}
	return map[string]any{"source": "agentCall", "type": "callBarEvent", "params": params}
}

func iframeParams(extra map[string]any) map[string]any {
	params := map[string]any{
		"partnerId": "P-778899", "uid": "u-123", "uemail": "li.lei@example.com", "email": "agent01@example.com",
		"sign": "9f86d081884c7d659a2feaa0c55ad015", "timestamp": 1763717400000, "uphone": "158****2496",
		"encryptUphone": "ENC-QUJDREVGMTIzNDU2", "callType": 2, "callId": "CALL-0001", "province": "Guangdong",
		"city": "Shenzhen", "startTime": 1763717399000,
	}
	for k, v := range extra {
		params[k] = v
	}
	return map[string]any{"source": "agentCall", "type": "iframeParams", "params": params}
}

// streamMsgs returns every message stored in the stream, in order.
func (tr *testRelay) streamMsgs(tb testing.TB) []*jetstream.RawStreamMsg {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := tr.js.Stream(ctx, "AGENTCALL")
	if err != nil {
		tb.Fatalf("stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatalf("stream info: %v", err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			tb.Fatalf("get msg %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// published decodes the stream's messages on subject (all when "").
func (tr *testRelay) published(tb testing.TB, subject string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, m := range tr.streamMsgs(tb) {
		if subject != "" && m.Subject != subject {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal(m.Data, &v); err != nil {
			tb.Fatalf("stored message on %s is not JSON: %v", m.Subject, err)
		}
		v["_subject"] = m.Subject
		v["_msgid"] = m.Header.Get("Nats-Msg-Id")
		out = append(out, v)
	}
	return out
}

// get fetches path and returns status and body.
func (tr *testRelay) get(tb testing.TB, path string) (int, string) {
	tb.Helper()
	resp, err := http.Get(tr.base + path)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

// post sends body to /v1/events with the relay's own origin.
func (tr *testRelay) post(tb testing.TB, body string, header map[string]string) (*http.Response, []byte) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, tr.base+"/v1/events", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("Origin", tr.base)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// eventually polls cond until it holds or 10s pass.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
