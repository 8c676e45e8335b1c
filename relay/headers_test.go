package relay_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Every response of the relay, success or error, JSON, metrics or a failed
// WebSocket upgrade, says X-Content-Type-Options: nosniff, so that no
// browser reads one as a script or a page.
func TestEveryResponseSaysNosniff(t *testing.T) {
	tr := MustRelay(t)
	batch := `{"events":[` + string(eventFrame("nosniff-1", callBar("EventAgentReady", nil))) + `]}`
	for _, tc := range []struct {
		name, method, path, origin, body string
		header                           map[string]string
		status                           int
	}{
		{name: "index", method: "GET", path: "/", status: 200},
		{name: "healthz", method: "GET", path: "/healthz", status: 200},
		{name: "readyz", method: "GET", path: "/readyz", status: 200},
		{name: "metrics", method: "GET", path: "/metrics", status: 200},
		{name: "batch", method: "POST", path: "/v1/events", origin: tr.base, body: batch, status: 200},
		{name: "preflight", method: "OPTIONS", path: "/v1/events", origin: tr.base, status: 204},
		{name: "not found", method: "GET", path: "/nope", status: 404},
		{name: "foreign origin", method: "POST", path: "/v1/events", origin: "https://evil.example.com", body: batch, status: 403},
		{name: "wrong method", method: "GET", path: "/v1/events", status: 405},
		{name: "bad batch", method: "POST", path: "/v1/events", origin: tr.base, body: "{", status: 400},
		{name: "websocket without upgrade", method: "GET", path: "/v1/ws", origin: tr.base, status: 400},
		{name: "websocket bad version", method: "GET", path: "/v1/ws", origin: tr.base, status: 400, header: map[string]string{
			"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "7", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
		}},
		{name: "websocket foreign origin", method: "GET", path: "/v1/ws", origin: "https://evil.example.com", status: 403, header: map[string]string{
			"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tr.base+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Errorf("%s %s: got status %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
			}
			if got := res.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
				t.Errorf("%s %s: got X-Content-Type-Options %q, want exactly [nosniff]", tc.method, tc.path, got)
			}
		})
	}
}
