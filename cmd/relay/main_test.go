package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// MustBuild builds the relay binary once per test.
func MustBuild(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "relay")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The README's run command, as a new user runs it: start with an empty data
// directory, send one event over WebSocket, read it back from NATS (with
// `relay tail` too), SIGTERM, exit 0.
// It runs once per sink: the default JetStream (with the default state,
// restored from the stream) and core NATS (memory state).
func TestRunAsANewUser(t *testing.T) {
	bin := MustBuild(t)
	t.Run("jetstream", func(t *testing.T) { runAsNewUser(t, bin) })
	// Core NATS has no stream to restore the call state from.
	t.Run("nats", func(t *testing.T) { runAsNewUser(t, bin, "--sink", "nats", "--state", "memory") })
}

func runAsNewUser(t *testing.T, bin string, extra ...string) {
	dir := t.TempDir()
	args := append([]string{"--addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--demo-workbench-addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// The banner names the addresses.
	banner := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for len(banner) < 4 && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && (f[0] == "websocket" || f[0] == "nats" || f[0] == "metrics") {
			banner[f[0]] = f[1]
		}
		if len(f) >= 2 && f[0] == "subjects" {
			banner["subjects"] = sc.Text()
		}
	}
	if len(banner) < 4 {
		t.Fatalf("banner incomplete: %v\nlogs:\n%s", banner, logs.String())
	}
	// The NATS port is not the default one: the tail hint says where.
	if want := "follow them: go run ./cmd/relay tail --nats-url " + banner["nats"]; !strings.HasSuffix(banner["subjects"], want) {
		t.Errorf("banner: got %q, want it to end with %q", banner["subjects"], want)
	}
	go func() { // keep draining stdout
		for sc.Scan() {
		}
	}()

	tail := exec.Command(bin, "tail", "-n", "1", "--nats-url", banner["nats"])
	tailOut, _ := tail.StdoutPipe()
	tailErr, _ := tail.StderrPipe()
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer tail.Process.Kill()
	// relay tail says when it follows the subjects.
	if line, err := bufio.NewReader(tailErr).ReadString('\n'); err != nil || !strings.Contains(line, "following agentcall.default.>") {
		t.Fatalf("tail: got %q, %v", line, err)
	}

	nc, err := nats.Connect(banner["nats"])
	if err != nil {
		t.Fatalf("connect to the banner's NATS: %v", err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("agentcall.default.callBarEvent.EventRinging")
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()

	origin := strings.Replace(strings.TrimSuffix(banner["websocket"], "/v1/ws"), "ws://", "http://", 1)
	ws, _, err := websocket.DefaultDialer.Dial(banner["websocket"], http.Header{"Origin": {origin}})
	if err != nil {
		t.Fatalf("dial %s: %v", banner["websocket"], err)
	}
	frame := `{"type":"event","id":"readme-1","seenAt":"2026-11-21T09:30:00Z","data":{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventRinging","callID":"CALL-1"}}}`
	if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, ack, err := ws.ReadMessage()
	if err != nil || !strings.Contains(string(ack), `"type":"ack"`) {
		t.Fatalf("got %s, %v, want an ack", ack, err)
	}
	msg, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no message on NATS: %v", err)
	}
	var ev map[string]any
	if err := json.Unmarshal(msg.Data, &ev); err != nil || ev["id"] != "readme-1" || ev["callId"] != "CALL-1" {
		t.Fatalf("got %s, want the event with callId CALL-1", msg.Data)
	}
	line, err := bufio.NewReader(tailOut).ReadString('\n')
	if err != nil || !strings.Contains(line, `"id":"readme-1"`) {
		t.Fatalf("relay tail printed %q, %v", line, err)
	}
	if err := tail.Wait(); err != nil {
		t.Fatalf("relay tail -n 1 exited with %v", err)
	}

	// SIGTERM: the WebSocket gets 1001 and the process exits 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// First the draining notice, then the close.
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != `{"type":"draining"}` {
		t.Errorf("got %s, %v, want the draining frame", msg, err)
	}
	_, _, err = ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseGoingAway {
		t.Errorf("got %v, want close 1001", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("relay exited with %v, want 0\nlogs:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("relay did not exit within 30s of SIGTERM")
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "neither --workbench-origins nor --allowed-origins is set") {
		t.Errorf("logs lack the warning about no origins:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"relay stopped"`) {
		t.Errorf("logs lack the stop line:\n%s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "nats", "jetstream")); err != nil {
		t.Errorf("the JetStream store is not under --data-dir: %v", err)
	}
}

// A configuration mistake is reported before anything listens, with every
// problem on a line of its own that names the flag and the value, and exit
// code 1.
func TestBadConfigurationFailsClearly(t *testing.T) {
	bin := MustBuild(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--tenant", "a b", "--allowed-origins", "*", "--addr", "127.0.0.1:0",
		"--workbench-origins", "https://*.com", "--token-issuer", "https://crm.example.com", "--ws-window", "5000",
		"--max-batch-bytes", "1000", "--call-idle-ttl", "1m", "--stream-replicas", "7")
	cmd.Env = append(os.Environ(), "RELAY_MAX_MESSAGE_BYTES=-5")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("got %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{
		"relay: invalid configuration:\n",
		"\n  --tenant \"a b\": must be 1 to 64 letters, digits, '_' or '-'\n",
		"\n  --allowed-origins \"*\": trusting every origin is not supported; list the origins\n",
		"\n  --workbench-origins \"https://*.com\": a pattern needs a domain of at least two labels",
		"\n  --max-message-bytes -5: must be positive\n",
		"\n  --token-issuer \"https://crm.example.com\": checks tokens, which only --token-secret turns on\n",
		"\n  --ws-window 5000: must be at most 4096\n",
		"\n  --call-idle-ttl 1m0s: must not be shorter than --call-ended-ttl (5m0s)\n",
		"\n  --stream-replicas 7: must be 1 to 5",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "allowed origin") && strings.Contains(string(out), "https://*.com") &&
		!strings.Contains(string(out), "--workbench-origins \"https://*.com\"") {
		t.Errorf("a workbench origin is reported as an allowed origin:\n%s", out)
	}
	// The relation between two settings names both flags; a secret is
	// never shown.
	cmd = exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--max-message-bytes", "4096", "--max-batch-bytes", "1000")
	cmd.Env = append(os.Environ(), "RELAY_TOKEN_SECRET=0123456789abcdef0123456789abcdef,too-short-secret")
	out, _ = cmd.CombinedOutput()
	for _, want := range []string{
		"\n  --max-batch-bytes 1000: must be at least --max-message-bytes (4096)\n",
		"\n  --token-secret: secret 2 is 16 bytes; use at least 32 random bytes",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "too-short-secret") {
		t.Errorf("the output shows a token secret:\n%s", out)
	}
	// Sign checking without the sysNum, a Sobot key with checking off:
	// named by flag, the key never shown.
	cmd = exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--sobot-sign", "require", "--stream-max-bytes=-1")
	cmd.Env = append(os.Environ(), "RELAY_SOBOT_KEY=the-sobot-k3y", "RELAY_RATE_LIMIT=-2")
	out, _ = cmd.CombinedOutput()
	for _, want := range []string{
		"\n  --sobot-sysnum: is required to check signs",
		"\n  --rate-limit -2: must be positive\n",
		"\n  --stream-max-bytes -1: must not be negative",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cmd = exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "RELAY_SOBOT_KEY=the-sobot-k3y")
	out, _ = cmd.CombinedOutput()
	if want := "\n  --sobot-key (RELAY_SOBOT_KEY): checks signs, which only --sobot-sign mark or require turns on"; !strings.Contains(string(out), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if strings.Contains(string(out), "the-sobot-k3y") {
		t.Errorf("the output shows the Sobot key:\n%s", out)
	}
}

// A port in use is reported once, with the flag that changes it, before
// anything starts.
func TestPortInUseNamesTheFlag(t *testing.T) {
	bin := MustBuild(t)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := held.Addr().String()
	for _, tc := range []struct{ flag, other string }{{"--addr", "--nats-listen"}, {"--nats-listen", "--addr"}} {
		t.Run(tc.flag, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.flag, busy, tc.other, "127.0.0.1:0", "--demo", "off", "--data-dir", t.TempDir())
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("got %v, want exit 1\n%s", err, out)
			}
			want := fmt.Sprintf("relay: %s %s: the address is in use (another relay still running?); stop that process, or choose another port with %s\n", tc.flag, busy, tc.flag)
			if string(out) != want {
				t.Errorf("got:\n%s\nwant exactly:\n%s", out, want)
			}
		})
	}
}

// serve --help says what --workbench-origins does, and what none means.
func TestWorkbenchOriginsHelp(t *testing.T) {
	out, _ := exec.Command(MustBuild(t), "serve", "--help").CombinedOutput()
	help := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{
		"Origins of the Sobot workbench iframe whose postMessages the hook forwards",
		"With none, the hook forwards nothing (except the demo's simulator in demo mode); a lone * is refused",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out)
		}
	}
}

// Every flag of `relay serve` and `relay tail` appears in the README's
// configuration table with its environment variable.
func TestReadmeListsEveryFlag(t *testing.T) {
	bin := MustBuild(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	flags := regexp.MustCompile(`--([a-z][a-z-]+)`).FindAllStringSubmatch(string(out), -1)
	if len(flags) < 15 {
		t.Fatalf("found only %d flags in --help:\n%s", len(flags), out)
	}
	for _, f := range flags {
		name := f[1]
		if name == "help" {
			continue
		}
		env := "RELAY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if !strings.Contains(string(readme), "`--"+name+"`") || !strings.Contains(string(readme), env) {
			t.Errorf("README.md does not list `--%s` with %s", name, env)
		}
	}
}
