package demo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/demo"
)

// demoToken stands for the token the demo page hands its hook.
const demoToken = "eyJhbGciOiJIUzI1NiJ9.demo-token-under-test.sig"

// Every path of the demo (its page, which carries the hook's token, the
// feed, the assets, the outage switch, the redirect from /, and the
// simulated workbench) answers 403 with nothing of the demo's to a request
// whose Host is not loopback, as a DNS-rebinding page sends (evil.example
// resolved to 127.0.0.1), and the page, the feed and the switch also refuse
// a loopback Host with a foreign Origin. The outage switch is not moved.
func TestEveryDemoPathRefusesAForeignHost(t *testing.T) {
	nc := MustNATS(t)
	outage := demo.NewOutage(&recorder{})
	d, err := demo.New(nc, demo.Config{
		Subject: "agentcall.default.>", WorkbenchURL: "http://127.0.0.1:8081/", WorkbenchOrigin: "http://127.0.0.1:8081",
		Logger: zerolog.Nop(), Token: func() string { return demoToken }, Outage: outage,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/demo", d)
	mux.Handle("/demo/", d)
	mux.Handle("GET /{$}", demo.Redirect(zerolog.Nop()))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() { _ = d.Close(); ts.Close() })
	wb := httptest.NewServer(demo.Workbench())
	t.Cleanup(wb.Close)

	// The control: a loopback Host gets the page with its token.
	if status, body := do(t, http.MethodGet, ts.URL+"/demo", "", "", ""); status != 200 || !strings.Contains(body, demoToken) {
		t.Fatalf("GET /demo on loopback: got %d, want 200 with the token", status)
	}

	type request struct{ method, url, body string }
	paths := []request{
		{"GET", ts.URL + "/demo", ""},
		{"GET", ts.URL + "/demo/", ""},
		{"HEAD", ts.URL + "/demo", ""},
		{"GET", ts.URL + "/demo/feed", ""},
		{"GET", ts.URL + "/demo/demo.js", ""},
		{"GET", ts.URL + "/demo/demo.css", ""},
		{"GET", ts.URL + "/demo/favicon.svg", ""},
		{"GET", ts.URL + "/demo/outage", ""},
		{"POST", ts.URL + "/demo/outage", `{"down":true}`},
		{"GET", ts.URL + "/demo/no-such-file", ""},
		{"GET", ts.URL + "/", ""},
		{"GET", wb.URL + "/", ""},
		{"GET", wb.URL + "/simulator.js", ""},
	}
	for _, host := range []string{"evil.example:8080", "evil.example", "127.0.0.1.evil.example", "localhost.evil.example:80", "[::1].evil.example"} {
		for _, p := range paths {
			status, body := do(t, p.method, p.url, p.body, host, "")
			if status != http.StatusForbidden {
				t.Errorf("%s %s with Host %q: got %d, want 403", p.method, p.url, host, status)
			}
			for _, leak := range []string{demoToken, "data-token", "<html", "event: nats", `"down"`, "callrelaySimulator"} {
				if strings.Contains(body, leak) {
					t.Errorf("%s %s with Host %q: the 403 carries %q", p.method, p.url, host, leak)
				}
			}
		}
	}
	for _, origin := range []string{"http://evil.example:8080", "https://127.0.0.1", "null"} {
		for _, p := range paths[:9] {
			status, body := do(t, p.method, p.url, p.body, "", origin)
			if status != http.StatusForbidden || strings.Contains(body, demoToken) {
				t.Errorf("%s %s with Origin %q: got %d, want 403 without the token", p.method, p.url, origin, status)
			}
		}
	}
	if outage.Paused() {
		t.Error("a refused POST /demo/outage switched the outage on")
	}
}

// do sends one request with host as its Host (empty: the URL's) and origin
// as its Origin (empty: none), without following redirects, and returns the
// status and the first bytes of the body (the feed streams).
func do(t *testing.T, method, url, body, host, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b := make([]byte, 64<<10)
	n, _ := io.ReadAtLeast(res.Body, b, 1)
	return res.StatusCode, string(b[:n])
}
