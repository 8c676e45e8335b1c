package main_test

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
