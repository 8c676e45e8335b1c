package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// MustBuildRelay builds the relay binary from the repository root, or
// returns $CALLRELAY_TEST_RELAY_BIN when set (to check the dashboards
// against another build).
func MustBuildRelay(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("CALLRELAY_TEST_RELAY_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(tb.TempDir(), "relay")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/relay")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/relay: %v\n%s", err, out)
	}
	return bin
}

// runningRelay is a relay process started by StartRelay.
type runningRelay struct {
	cmd    *exec.Cmd
	http   string // http://127.0.0.1:port
	ws     string // ws://127.0.0.1:port/v1/ws
	nats   string // nats://..., the embedded server's or the external one
	logs   *lockedBuffer
	exited chan struct{} // closed once the process has ended; err is then its status
	err    error
}

// StartRelay starts bin with an empty data directory, free ports (the demo
// off: it would listen on a fixed one) and the extra flags, and waits (at
// most 30s) for its banner; a relay that exits first fails the test at once.
func StartRelay(tb testing.TB, bin string, extra ...string) *runningRelay {
	tb.Helper()
	dir := tb.TempDir()
	args := append([]string{"--addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--demo", "off",
		"--data-dir", filepath.Join(dir, "data")}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	r := &runningRelay{cmd: cmd, logs: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = r.logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	banner := make(chan map[string]string, 1)
	go func() {
		got := map[string]string{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && (f[0] == "websocket" || f[0] == "nats" || f[0] == "metrics") {
				got[f[0]] = f[1]
				if len(got) == 3 {
					banner <- got
				}
			}
		}
		// stdout is closed: the process has ended (Wait after the reads).
		r.err = cmd.Wait()
		close(r.exited)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-r.exited
	})
	select {
	case b := <-banner:
		r.ws, r.nats = b["websocket"], b["nats"]
		r.http = strings.TrimSuffix(b["metrics"], "/metrics")
	case <-r.exited:
		tb.Fatalf("relay exited (%v) before printing its banner; logs:\n%s", r.err, r.logs)
	case <-time.After(30 * time.Second):
		tb.Fatalf("relay printed no banner within 30s; logs:\n%s", r.logs)
	}
	return r
}

// origin is the relay's own loopback origin, which it allows without listing.
func (r *runningRelay) origin() string { return r.http }

// Stop sends SIGTERM and waits at most 30s for the process to end.
func (r *runningRelay) Stop(tb testing.TB) {
	tb.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		tb.Fatalf("relay did not stop within 30s of SIGTERM")
	}
}

// Metrics scrapes /metrics and returns the exposition text.
func (r *runningRelay) Metrics(tb testing.TB) string {
	tb.Helper()
	resp, err := http.Get(r.http + "/metrics")
	if err != nil {
		tb.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	return string(body)
}

var sampleName = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`)

// exposedNames returns the metric names of an exposition text (a
// histogram's series under their _bucket, _sum and _count names).
func exposedNames(text string) map[string]bool {
	names := map[string]bool{}
	for _, m := range sampleName.FindAllStringSubmatch(text, -1) {
		names[m[1]] = true
	}
	return names
}

// frame is a client frame of docs/protocol.md.
type frame struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	SeenAt  string          `json:"seenAt,omitempty"`
	Session string          `json:"session,omitempty"`
	Client  string          `json:"client,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// answer is an ack or nack.
type answer struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Status  string `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Retry   bool   `json:"retry"`
}

var seq int

// event makes an event frame whose data is a workbench message of type typ
// with params.
func event(typ string, params map[string]any) frame {
	seq++
	data, _ := json.Marshal(map[string]any{"source": "agentCall", "type": typ, "params": params})
	return frame{Type: "event", ID: fmt.Sprintf("deploy-test-%d-%d", time.Now().UnixNano(), seq),
		SeenAt: time.Now().UTC().Format(time.RFC3339Nano), Data: data}
}

// barEvent is a callBarEvent with the fields the workbench sends.
func barEvent(messageID, callID string, extra map[string]any) frame {
	p := map[string]any{
		"messageID": messageID, "creationTime": time.Now().UnixMilli() + int64(seq)*1000, "companyId": "8f3b2c1d9e7a",
		"agentID": "1001", "agentUUID": "5a1e7c3b-2f4d-4e8a-9b6c-0d1e2f3a4b5c", "thisDN": "8001",
	}
	if callID != "" {
		p["callID"] = callID
		p["partyID"] = "p-" + callID
		p["ANI"] = "13800138000"
		p["DNIS"] = "4008001234"
	}
	for k, v := range extra {
		p[k] = v
	}
	return event("callBarEvent", p)
}

// talk is the iframeParams of a call.
func talk(callID, callType, partnerID, phone string) frame {
	return event("iframeParams", map[string]any{
		"partnerId": partnerID, "uid": "u-" + partnerID, "uemail": nil, "email": "agent01@example.com",
		"sign": "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d", "timestamp": fmt.Sprint(time.Now().UnixMilli()),
		"uphone": phone, "encryptUphone": nil, "gatewayNumber": 4008001234, "callType": callType,
		"callId": callID, "province": "广东", "city": "深圳", "startTime": time.Now().UnixMilli(),
	})
}

var queueFields = map[string]any{
	"firstDistributedQueueUUID": "0b9c8d7e-6f5a-4b3c-2d1e-0f9a8b7c6d5e", "firstDistributedQueueId": 201,
	"firstDistributedQueueName": "售前咨询", "lastDistributedQueueUUID": "1c0d9e8f-7a6b-4c5d-3e2f-1a0b9c8d7e6f",
	"lastDistributedQueueId": "202", "lastDistributedQueueName": "VIP Support", "province": "广东", "city": "深圳",
}

// callFlows is a realistic working stretch of one agent: log in, an inbound
// call whose talk details come first, an outbound call whose talk details
// come last, an inbound call released while ringing, agent states, a
// message ID the documentation does not list, a resend of an event already
// sent (a duplicate) and a frame the relay must refuse.
func callFlows() (ws []frame, post []frame, dupOf int) {
	in, out, missed := fmt.Sprint("IN", time.Now().UnixNano()), fmt.Sprint("OUT", time.Now().UnixNano()), fmt.Sprint("MISS", time.Now().UnixNano())
	ws = []frame{
		barEvent("EventAgentLogin", "", nil),
		barEvent("EventAgentReady", "", nil),
		talk(in, "2", "P-1001", "13800138000"),
		barEvent("EventRinging", in, map[string]any{"callType": "Inbound"}),
		barEvent("EventEstablished", in, mergeMaps(map[string]any{"callType": "Inbound"}, queueFields)),
		barEvent("EventReleased", in, map[string]any{"callType": "Inbound"}),
		barEvent("EventAgentNotReady", "", nil),
		barEvent("EventAgentReady", "", nil),
		barEvent("EventDialing", out, map[string]any{"callType": "Outbound"}),
		barEvent("EventEstablished", out, map[string]any{"callType": "Outbound"}),
		talk(out, "3", "P-2002", "13900139000"),
		barEvent("EventReleased", out, map[string]any{"callType": "Outbound"}),
		barEvent("EventAgentRegainStatus", "", nil),
		{Type: "event", ID: "deploy-test-invalid-" + fmt.Sprint(time.Now().UnixNano()), SeenAt: time.Now().UTC().Format(time.RFC3339),
			Data: json.RawMessage(`{"source":"agentCall","type":"callBarEvent","params":{"callID":"no-message-id"}}`)},
	}
	dupOf = 3 // the ringing event, sent again
	post = []frame{
		barEvent("EventRinging", missed, map[string]any{"callType": "Inbound"}),
		talk(missed, "2", "P-3003", "13700137000"),
		barEvent("EventReleased", missed, map[string]any{"callType": "Inbound"}),
		barEvent("EventAgentLogout", "", nil),
	}
	return ws, post, dupOf
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range []map[string]any{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// PlayWebSocket sends frames over one WebSocket (after a hello), resends
// frames[dupOf], reads one answer per event (at most 20s), closes the socket
// normally and returns the answers by id.
func PlayWebSocket(tb testing.TB, r *runningRelay, frames []frame, dupOf int) map[string][]answer {
	tb.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(r.ws, http.Header{"Origin": {r.origin()}})
	if err != nil {
		tb.Fatalf("dial %s: %v", r.ws, err)
	}
	defer conn.Close()
	send := append([]frame{{Type: "hello", Session: "deploy-test-session", Client: "deploy-test/1"}}, frames...)
	send = append(send, frames[dupOf])
	for _, f := range send {
		if err := conn.WriteJSON(f); err != nil {
			tb.Fatalf("write: %v", err)
		}
	}
	answers := map[string][]answer{}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for n := 0; n < len(send)-1; {
		var a answer
		if err := conn.ReadJSON(&a); err != nil {
			tb.Fatalf("read answers: %v (got %d of %d); logs:\n%s", err, n, len(send)-1, r.logs)
		}
		if a.Type == "ack" || a.Type == "nack" {
			answers[a.ID] = append(answers[a.ID], a)
			n++
		}
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for { // until the relay answers the close
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	return answers
}

// Post sends frames as one POST /v1/events batch and returns the answers.
func Post(tb testing.TB, r *runningRelay, frames []frame) []answer {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"events": frames})
	req, _ := http.NewRequest(http.MethodPost, r.http+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Origin", r.origin())
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("POST /v1/events: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []answer `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("POST /v1/events: %s, %v", resp.Status, err)
	}
	return out.Results
}

// WaitMetric polls /metrics until it contains want, at most timeout.
func WaitMetric(tb testing.TB, r *runningRelay, want string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(r.Metrics(tb), want) {
		if time.Now().After(deadline) {
			tb.Fatalf("/metrics has no %q after %s", want, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lockedBuffer collects a process's stderr while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
