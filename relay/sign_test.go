package relay_test

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrelay/callrelay/relay"
)

// withSign turns sign checking on in mode with sysNum 800123 and a key.
func withSign(mode string) relayOption {
	return func(c *relay.Config) {
		c.SignMode, c.SobotSysNum, c.SobotKey = mode, "800123", "k3y-Secret"
	}
}

// signedTalk is talk details for call, signed with the keyed formula at ts
// (the digest computed here, over the concatenation written out).
func signedTalk(call string, ts int64) map[string]any {
	stamp := strconv.FormatInt(ts, 10)
	sum := md5.Sum([]byte("800123" + "k3y-Secret" + stamp + "158****2496" + "li.lei@example.com"))
	return iframeParams(map[string]any{"callId": call, "timestamp": ts, "sign": strings.ToUpper(hex.EncodeToString(sum[:]))})
}

var (
	zeros    = strings.Repeat("0", 32)
	year2000 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
)

// In mark mode every talk-details message is published, saying whether its
// sign held.
func TestSignMarkPublishesTheVerdict(t *testing.T) {
	tr := MustRelay(t, withSign(relay.SignMark))
	c := tr.MustDial(t)
	now := time.Now().UnixMilli()
	cases := []struct {
		id   string
		data map[string]any
		want string
	}{
		{"m-ok", signedTalk("CALL-M1", now), "verified"},
		{"m-forged", iframeParams(map[string]any{"callId": "CALL-M2", "timestamp": now, "sign": zeros}), "unverified"},
		{"m-stale", iframeParams(map[string]any{"callId": "CALL-M3", "timestamp": year2000, "sign": zeros}), "unverified"},
		{"m-old-but-signed", signedTalk("CALL-M4", year2000), "unverified"},
		{"m-absent", iframeParams(map[string]any{"callId": "CALL-M5", "sign": nil}), "absent"},
	}
	for _, tc := range cases {
		if a := c.Call(t, tc.id, tc.data); a.Status != relay.StatusPublished {
			t.Fatalf("%s: got %+v, want published", tc.id, a)
		}
	}
	if a := c.Call(t, "m-bar", callBar("EventAgentReady", nil)); a.Status != relay.StatusPublished {
		t.Fatalf("callBarEvent: got %+v, want published", a)
	}
	schema := MustSchema(t, "event.schema.json")
	got := map[string]any{}
	for _, m := range tr.published(t, "") {
		if strings.HasSuffix(m["_subject"].(string), ".call") {
			continue
		}
		validateAgainst(t, schema, m)
		got[m["id"].(string)] = m["signature"]
	}
	for _, tc := range cases {
		if got[tc.id] != tc.want {
			t.Errorf("%s: got signature %v, want %s", tc.id, got[tc.id], tc.want)
		}
	}
	if s, ok := got["m-bar"]; !ok || s != nil {
		t.Errorf("callBarEvent: got signature %v (present %v), want none", s, ok)
	}
	_, body := tr.get(t, "/metrics")
	for _, want := range []string{`callrelay_sign_checks_total{result="verified"} 1`, `callrelay_sign_checks_total{result="invalid"} 1`,
		`callrelay_sign_checks_total{result="stale"} 2`, `callrelay_sign_checks_total{result="absent"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// In require mode forged, stale and unsigned talk details are refused with
// their own codes, recorded on the rejected subject and counted; the sign
// is checked on the values as received, before the redaction policy.
func TestSignRequireRefusesForgedAndStale(t *testing.T) {
	tr := MustRelay(t, withSign(relay.SignRequire), withPolicy(MustStrict(t)))
	c := tr.MustDial(t)
	now := time.Now().UnixMilli()
	cases := []struct {
		id, code string
		data     map[string]any
	}{
		{"r-forged", relay.CodeInvalidSign, iframeParams(map[string]any{"callId": "CALL-R1", "timestamp": now, "sign": zeros})},
		{"r-stale", relay.CodeStaleSign, iframeParams(map[string]any{"callId": "CALL-R2", "timestamp": year2000, "sign": zeros})},
		{"r-absent", relay.CodeInvalidSign, iframeParams(map[string]any{"callId": "CALL-R3", "sign": ""})},
		{"r-other-phone", relay.CodeInvalidSign, func() map[string]any {
			d := signedTalk("CALL-R4", now)
			d["params"].(map[string]any)["uphone"] = "139****0000"
			return d
		}()},
	}
	for _, tc := range cases {
		a := c.Call(t, tc.id, tc.data)
		if a.Type != "nack" || a.Code != tc.code || a.Retry {
			t.Fatalf("%s: got %+v, want nack %s retry:false", tc.id, a, tc.code)
		}
	}
	if a := c.Call(t, "r-ok", signedTalk("CALL-R5", now)); a.Status != relay.StatusPublished {
		t.Fatalf("signed: got %+v, want published", a)
	}
	rejected := map[string]any{}
	for _, m := range tr.published(t, "agentcall.default.rejected") {
		rejected[m["id"].(string)] = m["code"]
	}
	for _, tc := range cases {
		if rejected[tc.id] != tc.code {
			t.Errorf("%s: on rejected with code %v, want %s", tc.id, rejected[tc.id], tc.code)
		}
	}
	for _, m := range tr.published(t, "agentcall.default.iframeParams") {
		if m["id"] != "r-ok" || m["signature"] != "verified" {
			t.Errorf("published talk details %v %v, want only r-ok, verified", m["id"], m["signature"])
		}
	}
	_, body := tr.get(t, "/metrics")
	for _, want := range []string{`callrelay_events_rejected_total{code="invalid_sign"} 3`, `callrelay_events_rejected_total{code="stale_sign"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if logs := tr.logs.String(); strings.Contains(logs, zeros) || strings.Contains(logs, "k3y-Secret") {
		t.Errorf("the log shows a sign or the key:\n%s", logs)
	}
}
