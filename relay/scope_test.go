package relay_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callrelay/callrelay/relay"
)

// tokenFor mints a token for sub, with a tenant claim when tenant is not "".
func tokenFor(sub, tenant string) string {
	claims := map[string]any{"sub": sub, "exp": float64(time.Now().Add(5 * time.Minute).Unix())}
	if tenant != "" {
		claims["tenant"] = tenant
	}
	return mintToken(secretA, nil, claims)
}

// MustAgent opens a WebSocket and says hello with sub's token.
func (tr *testRelay) MustAgent(tb testing.TB, sub, tenant string) *wsClient {
	tb.Helper()
	c := tr.MustDial(tb)
	c.SendRaw(tb, []byte(`{"type":"hello","token":"`+tokenFor(sub, tenant)+`"}`))
	if a := c.Read(tb); a.Type != "welcome" {
		tb.Fatalf("hello as %s: got %+v, want welcome", sub, a)
	}
	return c
}

func mustPublish(tb testing.TB, c *wsClient, id string, data map[string]any) {
	tb.Helper()
	if a := c.Call(tb, id, data); a.Status != relay.StatusPublished {
		tb.Fatalf("%s: got %+v, want published", id, a)
	}
}

// byID returns the stored event with id, nil when none.
func byID(evs []map[string]any, id string) map[string]any {
	for _, e := range evs {
		if e["id"] == id {
			return e
		}
	}
	return nil
}

// Agent B's token never sees agent A's talk details: not on B's events for
// A's call id, not in the agent fields; and B cannot change A's call view's
// customer nor end A's call.
func TestAgentScopedCorrelation(t *testing.T) {
	tr := MustRelay(t, withTokens)
	a := tr.MustAgent(t, "agent-a@example.com", "")
	b := tr.MustAgent(t, "agent-b@example.com", "")
	steps := callSteps("CALL-X")
	mustPublish(t, a, "a-ring", steps["ringing"])
	mustPublish(t, a, "a-talk", steps["talk"])
	mustPublish(t, a, "a-est", steps["established"])

	// Disclosure: B's ringing for A's call id.
	mustPublish(t, b, "b-ring", callBar("EventRinging", map[string]any{"callID": "CALL-X", "creationTime": t0 + 200}))
	// Poisoning: B's own talk details with another customer, then the end of the call.
	mustPublish(t, b, "b-talk", iframeParams(map[string]any{"callId": "CALL-X", "partnerId": "P-EVIL", "uemail": "evil@example.com", "email": "agent-b@example.com"}))
	mustPublish(t, b, "b-del", callBar("EventCallDeleted", map[string]any{"callID": "CALL-X", "creationTime": t0 + 300}))
	// A's next event.
	mustPublish(t, a, "a-party", callBar("EventPartyChanged", map[string]any{"callID": "CALL-X", "creationTime": t0 + 400, "partyID": "p-2"}))

	all := tr.published(t, "")
	bRing := byID(all, "b-ring")
	if bRing == nil {
		t.Fatal("b-ring not stored")
	}
	raw, _ := json.Marshal(bRing)
	for _, secret := range []string{"P-778899", "li.lei@example.com", "agent01@example.com", "158****2496"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("B's event carries A's %q: %s", secret, raw)
		}
	}
	if agent, _ := bRing["agent"].(map[string]any); agent["subject"] != "agent-b@example.com" || agent["email"] != nil {
		t.Errorf("B's event agent: got %v, want B's subject only", bRing["agent"])
	}
	aParty := byID(all, "a-party")
	if talk, _ := aParty["talk"].(map[string]any); talk["partnerId"] != "P-778899" {
		t.Errorf("A's later event: talk %v, want A's own talk details", aParty["talk"])
	}
	bDel := byID(all, "b-del")
	if talk, _ := bDel["talk"].(map[string]any); talk["partnerId"] != "P-EVIL" {
		t.Errorf("B's later event: talk %v, want B's own talk details", bDel["talk"])
	}
	views := tr.views(t)
	last := views[len(views)-1]
	if last.Customer["partnerId"] != "P-778899" || last.State != "established" {
		t.Errorf("A's call view after B's messages: customer %v, state %s; want A's customer, established", last.Customer, last.State)
	}
	for _, v := range views {
		if v.Customer["partnerId"] == "P-EVIL" {
			t.Errorf("a view (revision %d) showed B's customer", v.Revision)
		}
	}
}

// B sending A's exact vendor event first does not make A's own copy a
// duplicate: content keys are per agent.
func TestContentKeyPerAgent(t *testing.T) {
	tr := MustRelay(t, withTokens)
	a := tr.MustAgent(t, "agent-a", "")
	b := tr.MustAgent(t, "agent-b", "")
	ev := callBar("EventRinging", map[string]any{"callID": "CALL-Y", "creationTime": t0, "partyID": "p-1"})
	mustPublish(t, b, "b-copy", ev)
	mustPublish(t, a, "a-own", ev)
	if byID(tr.published(t, ""), "a-own") == nil {
		t.Error("A's event was not stored")
	}
	// The same agent's copy under another id is still a duplicate.
	if ans := a.Call(t, "a-again", ev); ans.Status != relay.StatusDuplicate {
		t.Errorf("A's second copy: got %+v, want duplicate", ans)
	}
}

// A transfer: agent A answers, transfers to B, and releases; B talks, then
// releases. One call view merges both legs: the customer stays A's (B's
// talk details ride only on B's events), the call stays established while
// B talks, and is released when both legs are.
func TestTransferKeepsOneView(t *testing.T) {
	tr := MustRelay(t, withTokens)
	a := tr.MustAgent(t, "agent-a", "")
	b := tr.MustAgent(t, "agent-b", "")
	talkB := iframeParams(map[string]any{"callId": "CALL-T", "email": "agent-b@example.com"})
	mustPublish(t, a, "a1", callSteps("CALL-T")["ringing"])
	mustPublish(t, a, "a2", callSteps("CALL-T")["talk"])
	mustPublish(t, a, "a3", callSteps("CALL-T")["established"])
	mustPublish(t, b, "b1", callBar("EventRinging", map[string]any{"callID": "CALL-T", "creationTime": t0 + 20000, "partyID": "p-2"}))
	mustPublish(t, b, "b2", talkB)
	mustPublish(t, b, "b3", callBar("EventEstablished", map[string]any{"callID": "CALL-T", "creationTime": t0 + 22000, "partyID": "p-2"}))
	mustPublish(t, a, "a4", callSteps("CALL-T")["released"])
	views := tr.views(t)
	mid := views[len(views)-1]
	if mid.State != "established" || mid.Customer["partnerId"] != "P-778899" || len(mid.Parties) != 2 {
		t.Errorf("after A released: state %s, customer %v, parties %v; want established, A's customer, both parties", mid.State, mid.Customer, mid.Parties)
	}
	mustPublish(t, b, "b4", callBar("EventReleased", map[string]any{"callID": "CALL-T", "creationTime": t0 + 90000, "partyID": "p-2"}))
	views = tr.views(t)
	if end := views[len(views)-1]; end.State != "released" {
		t.Errorf("after both released: state %s, want released", end.State)
	}
	all := tr.published(t, "")
	if talk, _ := byID(all, "b3")["talk"].(map[string]any); talk["email"] != "agent-b@example.com" {
		t.Errorf("B's established: talk %v, want B's talk details", talk)
	}
	if talk, _ := byID(all, "a4")["talk"].(map[string]any); talk["email"] != "agent01@example.com" {
		t.Errorf("A's released: talk %v, want A's talk details", talk)
	}
}

// Two tenants on one relay, chosen by the tokens' tenant claim, see nothing
// of each other: their subjects, call views, dedup and correlation are
// apart, even with the same call ids and event ids.
func TestTenantsFromTokens(t *testing.T) {
	tr := MustRelay(t, withTokens)
	one := tr.MustAgent(t, "agent-1", "acme")
	two := tr.MustAgent(t, "agent-2", "globex")
	stepsOne := callSteps("CALL-SHARED")
	stepsTwo := callSteps("CALL-SHARED")
	stepsTwo["talk"] = iframeParams(map[string]any{"callId": "CALL-SHARED", "partnerId": "P-GLOBEX", "uemail": "g@globex.example"})
	for i, step := range stepOrder {
		mustPublish(t, one, fmt.Sprintf("same-%d", i), stepsOne[step])
		mustPublish(t, two, fmt.Sprintf("same-%d", i), stepsTwo[step]) // the same ids
	}
	for _, m := range tr.streamMsgs(t) {
		tenant := strings.Split(m.Subject, ".")[1]
		var body map[string]any
		if err := json.Unmarshal(m.Data, &body); err != nil {
			t.Fatal(err)
		}
		if body["tenant"] != tenant {
			t.Errorf("message on %s says tenant %v", m.Subject, body["tenant"])
		}
		switch tenant {
		case "acme":
			if strings.Contains(string(m.Data), "P-GLOBEX") || strings.Contains(string(m.Data), "agent-2") {
				t.Errorf("acme's %s holds globex's data: %s", m.Subject, m.Data)
			}
		case "globex":
			if strings.Contains(string(m.Data), "P-778899") || strings.Contains(string(m.Data), "agent-1") {
				t.Errorf("globex's %s holds acme's data: %s", m.Subject, m.Data)
			}
		default:
			t.Errorf("message on %s: want only the tokens' tenants", m.Subject)
		}
		if src := m.Header.Get("ce-source"); !strings.HasSuffix(src, "/"+tenant) {
			t.Errorf("ce-source %q on %s", src, m.Subject)
		}
	}
	for _, tenant := range []string{"acme", "globex"} {
		evs := tr.published(t, "agentcall."+tenant+".callBarEvent.EventEstablished")
		if len(evs) != 1 {
			t.Errorf("%s: %d EventEstablished, want 1 (the same id in the other tenant is no duplicate)", tenant, len(evs))
		}
		views := tr.published(t, "agentcall."+tenant+".call")
		if len(views) == 0 || views[len(views)-1]["state"] != "ended" {
			t.Errorf("%s: views %v, want the call ended", tenant, len(views))
		}
	}
}

// With --require-tenant-claim, a token without a tenant is refused; a
// tenant that is not a valid subject token always is.
func TestTenantClaimRefusals(t *testing.T) {
	tr := MustRelay(t, withTokens, func(c *relay.Config) { c.RequireTenantClaim = true })
	for _, tc := range []struct{ name, token, want string }{
		{"no tenant", tokenFor("agent-1", ""), "token refused: no_tenant"},
		{"bad tenant", tokenFor("agent-1", "acme.>"), "token refused: bad_tenant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tr.MustDial(t)
			c.SendRaw(t, []byte(`{"type":"hello","token":"`+tc.token+`"}`))
			ce := c.ReadClose(t)
			if ce.Code != 1008 || ce.Text != tc.want {
				t.Errorf("got close %d %q, want 1008 %q", ce.Code, ce.Text, tc.want)
			}
		})
	}
	c := tr.MustAgent(t, "agent-1", "acme")
	mustPublish(t, c, "ok-1", callBar("EventAgentReady", map[string]any{"agentID": "1"}))
	if got := tr.published(t, "agentcall.acme.callBarEvent.EventAgentReady"); len(got) != 1 {
		t.Errorf("got %d events on acme's subject, want 1", len(got))
	}
}
