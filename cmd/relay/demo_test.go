package main_test

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startRelay runs the binary with args and returns the banner's lines by
// their first word; the process is killed when the test ends.
func startRelay(t *testing.T, bin string, args ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, args...)...)
	cmd.Dir = dir
	stdout, _ := cmd.StdoutPipe()
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	banner := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	for banner["hook"] == "" || (banner["metrics"] == "") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("relay exited; banner %v\nlogs:\n%s", banner, logs.String())
			}
			if f := strings.Fields(l); len(f) >= 2 {
				banner[f[0]] = strings.Join(f[1:], " ")
			}
		case <-timeout:
			t.Fatalf("no banner within 30s: %v", banner)
		}
	}
	// The demo line, when on, follows the hook line.
	select {
	case l := <-lines:
		if f := strings.Fields(l); len(f) >= 2 {
			banner[f[0]] = strings.Join(f[1:], " ")
		}
	case <-time.After(500 * time.Millisecond):
	}
	go func() {
		for range lines {
		}
	}()
	return banner
}

func mustGet(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The default run serves the demo, whose simulated workbench is a second
// origin written into the served hook together with --workbench-origins.
func TestDemoAndHook(t *testing.T) {
	bin := MustBuild(t)
	t.Run("demo on by default with embedded NATS", func(t *testing.T) {
		b := startRelay(t, bin, "--demo-workbench-addr", "127.0.0.1:0", "--workbench-origins", "https://*.sobot.com")
		f := strings.Fields(b["demo"])
		if len(f) < 4 || !strings.HasSuffix(f[0], "/demo") {
			t.Fatalf("banner demo line: got %q, want the demo URL and the workbench origin", b["demo"])
		}
		wbOrigin := strings.TrimSuffix(f[len(f)-1], ")")
		code, page := mustGet(t, f[0])
		if code != 200 || !strings.Contains(page, `data-relay="ws://`) || !strings.Contains(page, wbOrigin+"/") {
			t.Errorf("GET /demo: got %d, want the page with the hook tag and the workbench frame", code)
		}
		code, js := mustGet(t, b["hook"])
		want := `{"workbenchOrigins":["https://*.sobot.com","` + wbOrigin + `"]}`
		if code != 200 || !strings.Contains(js, want) {
			t.Errorf("GET /hook.js: got %d, want the origins %s written in", code, want)
		}
		if code, sim := mustGet(t, wbOrigin+"/simulator.js"); code != 200 || !strings.Contains(sim, "callrelaySimulator") {
			t.Errorf("GET %s/simulator.js: got %d", wbOrigin, code)
		}
		base := strings.TrimSuffix(f[0], "/demo")
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := noFollow.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/demo" {
			t.Errorf("GET /: got %d to %q, want 302 to /demo", res.StatusCode, res.Header.Get("Location"))
		}

		// The outage switch stands in for NATS: /readyz follows it.
		for _, step := range []struct {
			body  string
			ready int
		}{{`{"down":true}`, http.StatusServiceUnavailable}, {`{"down":false}`, http.StatusOK}} {
			res, err := http.Post(base+"/demo/outage", "application/json", strings.NewReader(step.body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || strings.TrimSpace(string(got)) != step.body {
				t.Errorf("POST /demo/outage %s: got %d %s", step.body, res.StatusCode, got)
			}
			if code, body := mustGet(t, base+"/readyz"); code != step.ready {
				t.Errorf("GET /readyz after %s: got %d %s, want %d", step.body, code, body, step.ready)
			}
		}
	})
	t.Run("demo off", func(t *testing.T) {
		b := startRelay(t, bin, "--demo", "off", "--workbench-origins", "https://v6.example.com")
		if _, ok := b["demo"]; ok {
			t.Errorf("banner shows a demo with --demo off: %q", b["demo"])
		}
		base := strings.TrimSuffix(b["metrics"], "/metrics")
		if code, _ := mustGet(t, base+"/demo"); code != http.StatusNotFound {
			t.Errorf("GET /demo with --demo off: got %d, want 404", code)
		}
		if code, body := mustGet(t, base+"/"); code != http.StatusOK || !strings.Contains(body, `"/v1/ws"`) || strings.Contains(body, "/demo") {
			t.Errorf("GET / with --demo off: got %d %s, want the relay's paths", code, body)
		}
		if _, js := mustGet(t, b["hook"]); !strings.Contains(js, `{"workbenchOrigins":["https://v6.example.com"]}`) {
			t.Error("GET /hook.js lacks the configured origin")
		}
	})
	t.Run("bad workbench origins fail at start", func(t *testing.T) {
		out, err := exec.Command(bin, "--addr", "127.0.0.1:0", "--demo", "off", "--workbench-origins", "*,https://v6.example.com/path").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("got %v, want exit 1\n%s", err, out)
		}
		for _, want := range []string{"--workbench-origins", "every origin", "/path"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}
