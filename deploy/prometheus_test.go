package deploy_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// prometheus is a Prometheus server (Debian's package) started by
// StartPrometheus for one test.
type prometheus struct {
	base string // http://127.0.0.1:port
	logs *lockedBuffer
}

// StartPrometheus starts Prometheus on a free loopback port, with its
// storage in a temporary directory, scraping targets every second, and
// waits at most 30s until it is ready.
func StartPrometheus(tb testing.TB, targets ...string) *prometheus {
	tb.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		tb.Fatalf("no prometheus binary: install Debian's prometheus package (scripts/test does): %v", err)
	}
	dir := tb.TempDir()
	quoted := make([]string, len(targets))
	for i, t := range targets {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: callrelay
    static_configs:
      - targets: [%s]
`, strings.Join(quoted, ", "))
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	addr := freeAddr(tb)
	p := &prometheus{base: "http://" + addr, logs: &lockedBuffer{}}
	cmd := exec.Command(bin,
		"--config.file="+configFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case werr := <-exited:
			exited <- werr // for the cleanup
			tb.Fatalf("prometheus exited (%v) before it was ready:\n%s", werr, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("prometheus not ready after 30s: %v\n%s", err, p.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promSample is one element of an instant query's vector result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// Query runs an instant query through the HTTP API and returns the samples
// (a scalar result counts as one sample).
func (p *prometheus) Query(expr string) ([]promSample, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", body.Status, body.Error)
	}
	switch body.Data.ResultType {
	case "vector":
		var out []promSample
		err := json.Unmarshal(body.Data.Result, &out)
		return out, err
	case "scalar":
		var v [2]any
		err := json.Unmarshal(body.Data.Result, &v)
		return []promSample{{Value: v}}, err
	default:
		return nil, fmt.Errorf("result type %s", body.Data.ResultType)
	}
}

// WaitQuery polls expr until it returns at least one sample, at most timeout.
func (p *prometheus) WaitQuery(tb testing.TB, expr string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := p.Query(expr)
		if err == nil && len(got) > 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("prometheus: %s returned nothing after %s (%v)\n%s", expr, timeout, err, p.logs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
