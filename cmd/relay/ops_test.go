package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/sinks"
)

// relayProc is a relay process started by startProc: its banner lines,
// its log, and whether it has exited.
type relayProc struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line
	logs   *syncLog
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// startProc starts bin with args; it is killed at the end of the test.
func startProc(t *testing.T, bin string, args ...string) *relayProc {
	t.Helper()
	p := &relayProc{cmd: exec.Command(bin, args...), lines: make(chan string, 64), logs: &syncLog{}, exited: make(chan struct{})}
	p.cmd.Dir = t.TempDir()
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody reads any more
			}
		}
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// banner waits for the banner's addresses (websocket, nats, metrics) and
// fails at once if the process exits first.
func (p *relayProc) banner(t *testing.T, within time.Duration) map[string]string {
	t.Helper()
	got := map[string]string{}
	timeout := time.After(within)
	for got["websocket"] == "" || got["nats"] == "" || got["metrics"] == "" {
		select {
		case l := <-p.lines:
			if f := strings.Fields(l); len(f) >= 2 {
				got[f[0]] = f[1]
			}
		case <-p.exited:
			t.Fatalf("relay exited (%v) before its banner; logs:\n%s", p.err, p.logs)
		case <-timeout:
			t.Fatalf("no banner within %s; logs:\n%s", within, p.logs)
		}
	}
	return got
}

// wait waits for the process to exit by itself.
func (p *relayProc) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(within):
		t.Fatalf("relay still running after %s; logs:\n%s", within, p.logs)
		return nil
	}
}

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(b)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// A second relay on the --data-dir of a running one refuses to start,
// naming the flag, instead of opening the same JetStream store; once the
// first has stopped, the directory can be used again.
func TestSecondRelayOnTheSameDataDirRefuses(t *testing.T) {
	bin := MustBuild(t)
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"--addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--demo", "off", "--data-dir", data}
	first := startProc(t, bin, args...)
	first.banner(t, 30*time.Second)

	second := startProc(t, bin, args...)
	err := second.wait(t, 30*time.Second)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("second relay: got %v, want exit 1; logs:\n%s", err, second.logs)
	}
	if msg := second.logs.String(); !strings.Contains(msg, "--data-dir") || !strings.Contains(msg, "in use") {
		t.Errorf("second relay's message does not name --data-dir in use:\n%s", msg)
	}

	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := first.wait(t, 30*time.Second); err != nil {
		t.Fatalf("first relay: got %v, want exit 0; logs:\n%s", err, first.logs)
	}
	startProc(t, bin, args...).banner(t, 30*time.Second)
}

// A relay started before its NATS server waits for it instead of exiting:
// /healthz 200 and /readyz 503 with the reason meanwhile, a log line per
// attempt; once a nats-server listens on the port, the relay becomes ready
// and publishes.
func TestStartBeforeNATSWaitsForIt(t *testing.T) {
	bin := MustBuild(t)
	natsPort, _ := strconv.Atoi(freePort(t))
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	addr := "127.0.0.1:" + freePort(t)
	p := startProc(t, bin, "--addr", addr, "--nats-url", natsURL, "--demo", "off")
	base := "http://" + addr

	status, body := waitStatus(t, p, base+"/readyz", http.StatusServiceUnavailable)
	if !strings.Contains(body, `"not_ready"`) || !strings.Contains(body, "waiting for nats") {
		t.Errorf("/readyz while NATS is away: got %d %s, want not_ready saying it waits for nats", status, body)
	}
	if got, _ := getStatus(base + "/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while waiting: got %d, want 200", got)
	}
	waitLog(t, p, `"attempt":2`) // it keeps trying, and says so
	if strings.Contains(p.logs.String(), `"level":"error"`) {
		t.Errorf("waiting logged an error:\n%s", p.logs)
	}

	ns, err := sinks.NewEmbedded(sinks.EmbeddedConfig{Host: "127.0.0.1", Port: natsPort, StoreDir: t.TempDir(), JetStream: true, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Start(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })

	banner := p.banner(t, 30*time.Second)
	if status, body := waitStatus(t, p, base+"/readyz", http.StatusOK); status != http.StatusOK {
		t.Fatalf("/readyz after NATS came: got %d %s", status, body)
	}
	peer := dialBanner(t, banner)
	if got := peer.call(t, "after-wait-1", map[string]any{"source": "agentCall", "type": "callBarEvent",
		"params": map[string]any{"messageID": "EventAgentReady", "creationTime": time.Now().UnixMilli()}}); got != "published" {
		t.Fatalf("event after NATS came: got %s, want published", got)
	}
	found := false
	for _, m := range readStream(t, natsURL) {
		if m.body["id"] == "after-wait-1" {
			found = true
		}
	}
	if !found {
		t.Error("the acked event is not in the stream")
	}
}

// A configuration NATS refuses for good (replicas a single server cannot
// have) ends the wait at once, naming the flag.
func TestStartWithAnImpossibleStreamExitsNamingTheFlag(t *testing.T) {
	bin := MustBuild(t)
	ns := MustEmbeddedNATS(t)
	p := startProc(t, bin, "--addr", "127.0.0.1:0", "--nats-url", ns.ClientURL(), "--demo", "off", "--stream-replicas", "3")
	err := p.wait(t, 30*time.Second)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("got %v, want exit 1; logs:\n%s", err, p.logs)
	}
	if !strings.Contains(p.logs.String(), "--stream-replicas 3") {
		t.Errorf("the message does not name --stream-replicas:\n%s", p.logs)
	}
}

func getStatus(url string) (int, string) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitStatus polls url until it answers want (at most 30s), failing at
// once if the process exits.
func waitStatus(t *testing.T, p *relayProc, url string, want int) (int, string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := getStatus(url)
		if status == want {
			return status, body
		}
		select {
		case <-p.exited:
			t.Fatalf("relay exited (%v) while waiting for %s to answer %d; logs:\n%s", p.err, url, want, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %d %s, want %d; logs:\n%s", url, status, body, want, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLog waits (at most 30s) until the process has logged s.
func waitLog(t *testing.T, p *relayProc, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.logs.String(), s) {
		select {
		case <-p.exited:
			t.Fatalf("relay exited (%v) before logging %s; logs:\n%s", p.err, s, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the log after 30s:\n%s", s, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
