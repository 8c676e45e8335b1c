package main_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// secRelay is a relay process started by startSecRelay.
type secRelay struct {
	banner map[string]string
	logs   *secLogs
}

// secLogs collects a process's stderr.
type secLogs struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *secLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *secLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startSecRelay runs the binary with env added to the environment and
// args after random local addresses, and returns once the banner has named
// the hook (and the demo, when one is expected). The process is killed when
// the test ends.
func startSecRelay(t *testing.T, bin string, env []string, wantDemo bool, args ...string) *secRelay {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--demo-workbench-addr", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data")}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	p := &secRelay{banner: map[string]string{}, logs: &secLogs{}}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ls := lines(stdout)
	for p.banner["hook"] == "" || (wantDemo && p.banner["demo"] == "") {
		select {
		case l, ok := <-ls:
			if !ok {
				t.Fatalf("relay exited; banner %v\nlogs:\n%s", p.banner, p.logs.String())
			}
			if f := strings.Fields(l); len(f) >= 2 {
				p.banner[f[0]] = strings.Join(f[1:], " ")
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no banner within 30s: %v", p.banner)
		}
	}
	go func() {
		for range ls {
		}
	}()
	// The log line after the banner: start-up warnings come before it.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.logs.String(), `"relay started"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no start log line within 30s:\n%s", p.logs.String())
		}
	}
	return p
}

func (p *secRelay) base() string {
	return strings.TrimSuffix(strings.Fields(p.banner["hook"])[0], "/hook.js")
}

// secRequest sends one request without following redirects and returns the
// response with the first bytes of its body (the demo's feed streams).
func secRequest(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b := make([]byte, 64<<10)
	n, _ := io.ReadAtLeast(res.Body, b, 1)
	return res, string(b[:n])
}

const secTokenSecret = "RELAY_TOKEN_SECRET=0123456789abcdef0123456789abcdef-security-test"

// With tokens on, the demo page hands its hook a valid token. A page whose
// DNS name was re-bound to 127.0.0.1 sends its own name as Host: every
// demo path, the token's page first, answers it 403 with nothing of the
// demo's, and the feed shows it none of what was published.
func TestDemoRefusesAForeignHost(t *testing.T) {
	p := startSecRelay(t, MustBuild(t), []string{secTokenSecret}, true)
	base := p.base()
	wb := strings.TrimSuffix(strings.Fields(p.banner["demo"])[len(strings.Fields(p.banner["demo"]))-1], ")")

	res, page := secRequest(t, "GET", base+"/demo", "", nil)
	if res.StatusCode != 200 || !strings.Contains(page, `data-token="eyJ`) {
		t.Fatalf("GET /demo on loopback: got %d, want the page with the hook's token", res.StatusCode)
	}
	// Something personal on the subjects, for the feed to hold.
	const phone = "15899992496"
	batch := `{"events":[{"id":"sec-talk-1","seenAt":"2026-11-21T09:30:00Z","data":{"source":"agentCall","type":"iframeParams","params":{"callId":"SEC-1","uphone":"` + phone + `"}}}]}`
	tok := strings.SplitN(strings.SplitN(page, `data-token="`, 2)[1], `"`, 2)[0]
	if res, body := secRequest(t, "POST", base+"/v1/events", batch, map[string]string{"Origin": base, "Authorization": "Bearer " + tok}); res.StatusCode != 200 || !strings.Contains(body, `"ack"`) {
		t.Fatalf("POST the talk details: got %d %s", res.StatusCode, body)
	}

	for _, host := range []string{"evil.example:8080", "evil.example", "127.0.0.1.evil.example:8080"} {
		for _, r := range []struct{ method, url, body string }{
			{"GET", base + "/demo", ""},
			{"GET", base + "/demo/", ""},
			{"GET", base + "/demo/feed", ""},
			{"GET", base + "/demo/demo.js", ""},
			{"GET", base + "/demo/demo.css", ""},
			{"GET", base + "/demo/favicon.svg", ""},
			{"GET", base + "/demo/outage", ""},
			{"POST", base + "/demo/outage", `{"down":true}`},
			{"GET", base + "/", ""},
			{"GET", wb + "/", ""},
			{"GET", wb + "/simulator.js", ""},
		} {
			res, body := secRequest(t, r.method, r.url, r.body, map[string]string{"Host": host, "Origin": "http://" + host})
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with Host %s: got %d, want 403", r.method, r.url, host, res.StatusCode)
			}
			for _, leak := range []string{tok, "data-token", phone, "<html", `"down"`, "event: nats"} {
				if strings.Contains(body, leak) {
					t.Errorf("%s %s with Host %s: the answer carries %q", r.method, r.url, host, leak)
				}
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s %s with Host %s: no nosniff", r.method, r.url, host)
			}
		}
	}
	// A loopback Host with another site's Origin is refused too.
	if res, body := secRequest(t, "GET", base+"/demo", "", map[string]string{"Origin": "http://evil.example:8080"}); res.StatusCode != http.StatusForbidden || strings.Contains(body, tok) {
		t.Errorf("GET /demo with a foreign Origin: got %d, want 403 without the token", res.StatusCode)
	}
	if res, _ := secRequest(t, "GET", base+"/readyz", "", nil); res.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: got %d, want 200 (a refused POST /demo/outage must not switch the outage on)", res.StatusCode)
	}
}

// Every response of the running relay says nosniff: /hook.js, the demo, the
// JSON answers and errors, /metrics, a failed WebSocket upgrade.
func TestEveryResponseOfTheBinarySaysNosniff(t *testing.T) {
	p := startSecRelay(t, MustBuild(t), nil, true)
	base := p.base()
	upgrade := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	for _, r := range []struct {
		method, path string
		header       map[string]string
		status       int
	}{
		{"GET", "/hook.js", nil, 200},
		{"GET", "/demo", nil, 200},
		{"GET", "/demo/demo.js", nil, 200},
		{"GET", "/", nil, 302},
		{"GET", "/healthz", nil, 200},
		{"GET", "/readyz", nil, 200},
		{"GET", "/metrics", nil, 200},
		{"GET", "/nope", nil, 404},
		{"GET", "/demo/nope", nil, 404},
		{"GET", "/v1/events", nil, 405},
		{"POST", "/hook.js", nil, 405},
		{"POST", "/v1/events", map[string]string{"Origin": "https://evil.example.com"}, 403},
		{"GET", "/v1/ws", map[string]string{"Origin": base}, 400},
		{"GET", "/v1/ws", map[string]string{"Origin": "https://evil.example.com", "Connection": upgrade["Connection"], "Upgrade": upgrade["Upgrade"], "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": upgrade["Sec-WebSocket-Key"]}, 403},
	} {
		res, _ := secRequest(t, r.method, base+r.path, "", r.header)
		if res.StatusCode != r.status {
			t.Errorf("%s %s: got %d, want %d", r.method, r.path, res.StatusCode, r.status)
		}
		if got := res.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s %s: got X-Content-Type-Options %q, want [nosniff]", r.method, r.path, got)
		}
	}
}

// --metrics-addr serves /metrics there and only there: the main address
// answers 404 for it and no longer lists it, the metrics address serves
// nothing else, and the banner names the metrics address.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	bin := MustBuild(t)
	p := startSecRelay(t, bin, nil, false, "--demo", "off", "--metrics-addr", "127.0.0.1:0")
	base := p.base()
	metrics := strings.Fields(p.banner["metrics"])[0]
	if strings.HasPrefix(metrics, base+"/") {
		t.Fatalf("banner: metrics %s on the main address %s", metrics, base)
	}
	res, body := secRequest(t, "GET", metrics, "", nil)
	if res.StatusCode != 200 || !strings.Contains(body, "callrelay_build_info") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET %s: got %d with nosniff %q, want 200 with the metrics", metrics, res.StatusCode, res.Header.Get("X-Content-Type-Options"))
	}
	if res, body := secRequest(t, "GET", base+"/metrics", "", nil); res.StatusCode != http.StatusNotFound || strings.Contains(body, "callrelay_") {
		t.Errorf("GET /metrics on --addr: got %d, want 404", res.StatusCode)
	}
	if _, body := secRequest(t, "GET", base+"/", "", nil); strings.Contains(body, "/metrics") {
		t.Errorf("GET / on --addr lists /metrics: %s", body)
	}
	metricsBase := strings.TrimSuffix(metrics, "/metrics")
	for _, path := range []string{"/", "/healthz", "/v1/events", "/hook.js"} {
		if res, _ := secRequest(t, "GET", metricsBase+path, "", nil); res.StatusCode != http.StatusNotFound || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s on --metrics-addr: got %d, want 404 with nosniff", path, res.StatusCode)
		}
	}

	// The same address twice is a configuration error naming both flags.
	out, err := exec.Command(bin, "--addr", "127.0.0.1:18089", "--metrics-addr", "127.0.0.1:18089", "--demo", "off").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), `--metrics-addr "127.0.0.1:18089": must differ from --addr`) {
		t.Errorf("same address: got %v\n%s", err, out)
	}
}

// Tokens off and an --addr beyond loopback: the relay says at start that it
// cannot tell agents apart. With tokens, or on loopback, it does not.
func TestWarnsWithoutTokensBeyondLoopback(t *testing.T) {
	bin := MustBuild(t)
	const warning = "--token-secret is not set and --addr listens beyond loopback"
	for _, tc := range []struct {
		name string
		env  []string
		addr string
		warn bool
	}{
		{"no tokens, every interface", nil, "0.0.0.0:0", true},
		{"tokens, every interface", []string{secTokenSecret}, "0.0.0.0:0", false},
		{"no tokens, loopback", nil, "127.0.0.1:0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startSecRelay(t, bin, tc.env, false, "--demo", "off", "--addr", tc.addr)
			logs := p.logs.String()
			if got := strings.Contains(logs, warning); got != tc.warn {
				t.Errorf("warning in the logs: got %v, want %v\n%s", got, tc.warn, logs)
			}
			if tc.warn && !strings.Contains(logs, `"level":"warn"`) {
				t.Errorf("the warning is not at level warn:\n%s", logs)
			}
		})
	}
}

// The embedded NATS server refuses to listen beyond loopback without
// credentials, naming the flag and the variables. With them it refuses an
// unauthenticated client, while the relay and `relay tail` (given the same
// variables) work; the password appears in no output.
func TestEmbeddedNATSBeyondLoopbackNeedsCredentials(t *testing.T) {
	bin := MustBuild(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--nats-listen", "0.0.0.0:0", "--data-dir", t.TempDir(), "--demo", "off").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("got %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{`--nats-listen "0.0.0.0:0"`, "RELAY_NATS_USER", "RELAY_NATS_PASSWORD"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Half a pair is refused too, without echoing the password.
	cmd := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--demo", "off")
	cmd.Env = append(os.Environ(), "RELAY_NATS_PASSWORD=half-a-pair-password")
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "RELAY_NATS_USER") || strings.Contains(string(out), "half-a-pair-password") {
		t.Errorf("a password without a user: got %v\n%s", err, out)
	}

	const password = "pw-5d1c7e9a2b4f6083-security"
	creds := []string{"RELAY_NATS_USER=callrelay", "RELAY_NATS_PASSWORD=" + password}
	p := startSecRelay(t, bin, creds, false, "--nats-listen", "0.0.0.0:0", "--demo", "off")
	natsURL := strings.Fields(p.banner["nats"])[0]
	if strings.Contains(natsURL, "@") || !strings.Contains(p.banner["subjects"], "RELAY_NATS_PASSWORD set") {
		t.Errorf("banner: nats %q, subjects %q; want no credentials and a hint naming the variables", p.banner["nats"], p.banner["subjects"])
	}
	if nc, err := nats.Connect(natsURL, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("an unauthenticated client connected to the embedded server")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("an unauthenticated client: got %v, want an authorization error", err)
	}
	if nc, err := nats.Connect(natsURL, nats.UserInfo("callrelay", "wrong")); err == nil {
		nc.Close()
		t.Fatal("a client with a wrong password connected")
	}

	// relay tail without the variables is refused and says what to set.
	tailOut, err := exec.CommandContext(ctx, bin, "tail", "-n", "1", "--nats-url", natsURL).CombinedOutput()
	if err == nil || !strings.Contains(string(tailOut), "RELAY_NATS_USER") {
		t.Errorf("tail without credentials: got %v\n%s", err, tailOut)
	}
	tail := exec.CommandContext(ctx, bin, "tail", "-n", "1", "--nats-url", natsURL)
	tail.Env = append(os.Environ(), creds...)
	stdout, _ := tail.StdoutPipe()
	stderr, _ := tail.StderrPipe()
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer tail.Process.Kill()
	if line, err := bufio.NewReader(stderr).ReadString('\n'); err != nil || !strings.Contains(line, "following agentcall.default.>") {
		t.Fatalf("tail with credentials: got %q, %v", line, err)
	}
	peer := dialBanner(t, p.banner)
	if got := peer.call(t, "creds-1", map[string]any{"source": "agentCall", "type": "callBarEvent", "params": map[string]any{"messageID": "EventAgentReady"}}); got != "published" {
		t.Fatalf("event through a relay with NATS credentials: got %q, want published", got)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, `"id":"creds-1"`) {
		t.Errorf("tail printed %q, %v; want the event", line, err)
	}
	if err := tail.Wait(); err != nil {
		t.Errorf("tail -n 1: %v", err)
	}
	for name, text := range map[string]string{"relay logs": p.logs.String(), "banner": strings.Join([]string{p.banner["nats"], p.banner["subjects"]}, " "), "tail": string(tailOut) + line} {
		if strings.Contains(text, password) {
			t.Errorf("the %s show the NATS password", name)
		}
	}
}
