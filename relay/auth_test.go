package relay_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/callrelay/callrelay/relay"
)

func withTokens(c *relay.Config) {
	c.TokenSecrets = []string{secretA}
	c.HelloTimeout = 300 * time.Millisecond
}

func validToken(sub string) string {
	return mintToken(secretA, nil, map[string]any{"sub": sub, "exp": float64(time.Now().Add(5 * time.Minute).Unix())})
}

// With tokens required, a WebSocket must open with a hello carrying a valid
// token; the token's subject becomes agent.subject on what it publishes.
func TestWebSocketTokens(t *testing.T) {
	tr := MustRelay(t, withTokens)

	t.Run("valid token", func(t *testing.T) {
		c := tr.MustDial(t)
		c.SendRaw(t, []byte(`{"type":"hello","session":"s-1","token":"`+validToken("agent-1001@example.com")+`"}`))
		if a := c.Read(t); a.Type != "welcome" {
			t.Fatalf("got %+v, want welcome", a)
		}
		if a := c.Call(t, "tok-1", callBar("EventAgentReady", map[string]any{"agentID": "1001"})); a.Status != relay.StatusPublished {
			t.Fatalf("got %+v, want published", a)
		}
		got := tr.published(t, "agentcall.default.callBarEvent.EventAgentReady")
		if len(got) != 1 {
			t.Fatalf("got %d events, want 1", len(got))
		}
		if agent, _ := got[0]["agent"].(map[string]any); agent["subject"] != "agent-1001@example.com" {
			t.Fatalf("agent: got %v, want the token's subject", got[0]["agent"])
		}
	})
	for _, tc := range []struct {
		name   string
		frames []string
		reason string
	}{
		{"event before hello", []string{string(eventFrame("tok-2", callBar("EventAgentReady", nil)))}, "send a hello frame with a token first"},
		{"hello without a token", []string{`{"type":"hello","session":"s-2"}`}, "token refused: missing"},
		{"hello with a forged token", []string{`{"type":"hello","token":"` + mintToken("not-the-secret-not-the-secret-0123", nil, map[string]any{"sub": "x", "exp": 9999999999}) + `"}`}, "token refused: bad_signature"},
		{"hello with an expired token", []string{`{"type":"hello","token":"` + mintToken(secretA, nil, map[string]any{"sub": "x", "exp": 1}) + `"}`}, "token refused: expired"},
		{"silence", nil, "no hello frame with a token within 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tr.MustDial(t)
			for _, f := range tc.frames {
				c.SendRaw(t, []byte(f))
			}
			ce := c.ReadClose(t)
			if ce.Code != websocket.ClosePolicyViolation || ce.Text != tc.reason {
				t.Fatalf("got close %d %q, want 1008 %q", ce.Code, ce.Text, tc.reason)
			}
		})
	}
	if n := len(tr.published(t, "")); n != 1 {
		t.Errorf("got %d messages in the stream, want only the authenticated event", n)
	}
	_, body := tr.get(t, "/metrics")
	for _, want := range []string{
		`callrelay_auth_failures_total{reason="missing"} 2`,
		`callrelay_auth_failures_total{reason="bad_signature"} 1`,
		`callrelay_auth_failures_total{reason="expired"} 1`,
		`callrelay_auth_failures_total{reason="hello_timeout"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if logs := tr.logs.String(); strings.Contains(logs, "agent-1001@example.com") || strings.Contains(logs, validToken("agent-1001@example.com")[:40]) {
		t.Error("the log contains the token or its subject")
	}
}

// With tokens required, a batch needs one: in the Authorization header or,
// for sendBeacon, in the body.
func TestPostTokens(t *testing.T) {
	tr := MustRelay(t, withTokens)
	batch := func(id, token string) string {
		b := `{"events":[` + string(eventFrame(id, callBar("EventAgentNotReady", map[string]any{"agentID": id}))) + `]}` // distinct vendor events
		if token != "" {
			b = `{"token":"` + token + `",` + b[1:]
		}
		return b
	}
	cases := []struct {
		name   string
		body   string
		header map[string]string
		status int
	}{
		{"no token", batch("pt-1", ""), nil, http.StatusUnauthorized},
		{"bad token in the body", batch("pt-2", "a.b.c"), nil, http.StatusUnauthorized},
		{"token in the body", batch("pt-3", validToken("beacon-agent")), nil, http.StatusOK},
		{"bearer token", batch("pt-4", ""), map[string]string{"Authorization": "Bearer " + validToken("fetch-agent")}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tr.post(t, tc.body, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status == http.StatusUnauthorized && !strings.Contains(string(body), relay.CodeUnauthorized) {
				t.Fatalf("got %s, want code %s", body, relay.CodeUnauthorized)
			}
		})
	}
	subjects := map[string]any{}
	for _, m := range tr.published(t, "") {
		if agent, _ := m["agent"].(map[string]any); agent != nil {
			subjects[m["id"].(string)] = agent["subject"]
		}
	}
	if subjects["pt-3"] != "beacon-agent" || subjects["pt-4"] != "fetch-agent" || len(subjects) != 2 {
		t.Fatalf("got subjects %v, want pt-3 beacon-agent and pt-4 fetch-agent only", subjects)
	}
}

// With an audience and an issuer configured, a WebSocket token must carry
// both; the refusals have their own reasons and metric labels.
func TestWebSocketTokenAudienceAndIssuer(t *testing.T) {
	tr := MustRelay(t, withTokens, func(c *relay.Config) {
		c.TokenAudience, c.TokenIssuer = "callrelay", "https://crm.example.com"
	})
	exp := float64(time.Now().Add(5 * time.Minute).Unix())
	for _, tc := range []struct {
		name   string
		claims map[string]any
		reason string
	}{
		{"right audience and issuer", map[string]any{"sub": "a", "exp": exp, "aud": "callrelay", "iss": "https://crm.example.com"}, ""},
		{"no audience", map[string]any{"sub": "a", "exp": exp, "iss": "https://crm.example.com"}, "token refused: bad_audience"},
		{"other issuer", map[string]any{"sub": "a", "exp": exp, "aud": "callrelay", "iss": "https://other.example.com"}, "token refused: bad_issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tr.MustDial(t)
			c.SendRaw(t, []byte(`{"type":"hello","token":"`+mintToken(secretA, nil, tc.claims)+`"}`))
			if tc.reason == "" {
				if a := c.Read(t); a.Type != "welcome" {
					t.Fatalf("got %+v, want welcome", a)
				}
				return
			}
			if ce := c.ReadClose(t); ce.Code != websocket.ClosePolicyViolation || ce.Text != tc.reason {
				t.Fatalf("got close %d %q, want 1008 %q", ce.Code, ce.Text, tc.reason)
			}
		})
	}
	_, body := tr.get(t, "/metrics")
	for _, want := range []string{`callrelay_auth_failures_total{reason="bad_audience"} 1`, `callrelay_auth_failures_total{reason="bad_issuer"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
