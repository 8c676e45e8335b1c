package relay_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/callrelay/callrelay/relay"
)

func TestPostEventsAnswersPerEvent(t *testing.T) {
	tr := MustRelay(t, func(c *relay.Config) { c.MaxBatchBytes = 64 << 10; c.MaxBatchEvents = 3 })
	batch := `{"events":[` +
		string(eventFrame("p-1", callBar("EventRinging", map[string]any{"callID": "C-7"}))) + `,` +
		string(eventFrame("p-2", map[string]any{"source": "other"})) + `,` +
		`42]}`
	resp, body := tr.post(t, batch, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tr.base {
		t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, tr.base)
	}
	var out struct{ Results []answer }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	want := []answer{
		{Type: "ack", ID: "p-1", Status: relay.StatusPublished},
		{Type: "nack", ID: "p-2", Code: "invalid_source"},
		{Type: "nack", Code: relay.CodeInvalidFrame},
	}
	if len(out.Results) != len(want) {
		t.Fatalf("got %d results, want %d: %s", len(out.Results), len(want), body)
	}
	for i, w := range want {
		g := out.Results[i]
		if g.Type != w.Type || g.ID != w.ID || g.Status != w.Status || g.Code != w.Code || g.Retry {
			t.Errorf("result %d: got %+v, want %+v", i, g, w)
		}
	}
	if got := tr.published(t, "agentcall.default.rejected"); len(got) != 1 || got[0]["via"] != "http" {
		t.Errorf("rejected: got %v, want one message via http", got)
	}

	errCases := []struct {
		name, body string
		header     map[string]string
		status     int
		code       string
	}{
		{"not JSON", "hello", nil, http.StatusBadRequest, relay.CodeBatchInvalid},
		{"no events array", `{"event":[]}`, nil, http.StatusBadRequest, relay.CodeBatchInvalid},
		{"too many events", `{"events":[1,2,3,4]}`, nil, http.StatusRequestEntityTooLarge, relay.CodeBatchTooLarge},
		{"body too large", `{"events":["` + strings.Repeat("x", 70<<10) + `"]}`, nil, http.StatusRequestEntityTooLarge, relay.CodeBatchTooLarge},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tr.post(t, tc.body, tc.header)
			var e struct {
				Error struct{ Code, Message string }
			}
			_ = json.Unmarshal(body, &e)
			if resp.StatusCode != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
		})
	}

	t.Run("preflight", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, tr.base+"/v1/events", nil)
		req.Header.Set("Origin", tr.base)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Fatalf("got %d %v, want 204 allowing POST", resp.StatusCode, resp.Header)
		}
	})
	t.Run("GET is refused", func(t *testing.T) {
		status, body := tr.get(t, "/v1/events")
		if status != http.StatusMethodNotAllowed || !strings.Contains(body, relay.CodeMethodNotAllowed) {
			t.Fatalf("got %d %s, want 405", status, body)
		}
	})
}

func TestHealthReadyIndexAndNotFound(t *testing.T) {
	tr := MustRelay(t)
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/healthz", http.StatusOK, `"ok"`},
		{"/readyz", http.StatusOK, `"ready"`},
		{"/nope", http.StatusNotFound, relay.CodeNotFound},
		{"/", http.StatusOK, `"/v1/ws":`},
		{"/", http.StatusOK, `"/healthz":`},
		{"/", http.StatusOK, `"/metrics":`},
	} {
		if status, body := tr.get(t, tc.path); status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: got %d %s, want %d containing %s", tc.path, status, body, tc.status, tc.want)
		}
	}
}

// A POST without an Origin header is refused with a 403 that says how to
// accept non-browser clients; one with a foreign origin is refused plainly.
func TestPostWithoutOriginNamesTheFlag(t *testing.T) {
	tr := MustRelay(t)
	batch := `{"events":[` + string(eventFrame("no-origin-1", callBar("EventAgentReady", nil))) + `]}`
	resp, body := tr.post(t, batch, map[string]string{"Origin": ""})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "--allow-no-origin") || !strings.Contains(string(body), relay.CodeOriginNotAllowed) {
		t.Errorf("no Origin: got %d %s, want 403 origin_not_allowed naming --allow-no-origin", resp.StatusCode, body)
	}
	resp, body = tr.post(t, batch, map[string]string{"Origin": "https://evil.example.com"})
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "--allow-no-origin") {
		t.Errorf("foreign Origin: got %d %s, want 403 without the flag", resp.StatusCode, body)
	}
}
