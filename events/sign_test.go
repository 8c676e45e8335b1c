package events_test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/callrelay/callrelay/events"
)

// md5hex is the test's own digest of a concatenation written out by hand.
func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// talk parses iframeParams with the given params members.
func talk(tb testing.TB, params map[string]any) *events.Message {
	tb.Helper()
	p, err := json.Marshal(params)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := events.Parse([]byte(`{"source":"agentCall","type":"iframeParams","params":`+string(p)+`}`), events.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// The vectors: the hex literals were computed with md5sum(1) over the same
// concatenations, outside Go; md5hex recomputes them from the literal text.
const (
	vecPlain     = "4df9aa629023643407764c698f1cead7" // "800123" + "agent@example.com"
	vecKeyedBoth = "803d4fbf55fa9ad2609b0e872dfbc78b" // "800123" + "k3y-Secret" + "1763717400000" + "158****2496" + "cust@example.com"
	vecNoPhone   = "9681831d1a4dd740d58aedc1d3823d5a" // "800123" + "k3y-Secret" + "1763717400000" + "cust@example.com"
	vecNoEmail   = "ce4c8d7eaa92b46df82dd2cf71a51f49" // "800123" + "k3y-Secret" + "1763717400000" + "158****2496"
	vecNeither   = "b3995ceb0778946592c5ada74b105586" // "800123" + "k3y-Secret" + "1763717400000"
)

func TestSignVectors(t *testing.T) {
	for _, v := range []struct{ literal, concat string }{
		{vecPlain, "800123" + "agent@example.com"},
		{vecKeyedBoth, "800123" + "k3y-Secret" + "1763717400000" + "158****2496" + "cust@example.com"},
		{vecNoPhone, "800123" + "k3y-Secret" + "1763717400000" + "cust@example.com"},
		{vecNoEmail, "800123" + "k3y-Secret" + "1763717400000" + "158****2496"},
		{vecNeither, "800123" + "k3y-Secret" + "1763717400000"},
	} {
		if got := md5hex(v.concat); got != v.literal {
			t.Fatalf("md5(%q) = %s, want %s (the vector table is wrong)", v.concat, got, v.literal)
		}
	}
	if got := events.PlainSign("800123", "agent@example.com"); got != vecPlain {
		t.Errorf("PlainSign: got %s, want %s", got, vecPlain)
	}
	for _, c := range []struct {
		uphone, uemail, want string
	}{
		{"158****2496", "cust@example.com", vecKeyedBoth},
		{"", "cust@example.com", vecNoPhone},
		{"158****2496", "", vecNoEmail},
		{"", "", vecNeither},
	} {
		if got := events.KeyedSign("800123", "k3y-Secret", "1763717400000", c.uphone, c.uemail); got != c.want {
			t.Errorf("KeyedSign(uphone %q, uemail %q): got %s, want %s", c.uphone, c.uemail, got, c.want)
		}
	}
}

func TestSignCheck(t *testing.T) {
	ts := int64(1763717400000)
	now := time.UnixMilli(ts).Add(3 * time.Minute)
	plain := events.SignKey{SysNum: "800123", Window: 10 * time.Minute}
	keyed := events.SignKey{SysNum: "800123", Key: "k3y-Secret", Window: 10 * time.Minute}
	base := func(sign string, extra map[string]any) map[string]any {
		p := map[string]any{"callId": "C-1", "email": "agent@example.com", "timestamp": ts, "sign": sign}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	for _, c := range []struct {
		name   string
		key    events.SignKey
		params map[string]any
		now    time.Time
		want   events.SignVerdict
	}{
		{"plain", plain, base(vecPlain, nil), now, events.SignVerified},
		{"plain upper case", plain, base(strings.ToUpper(vecPlain), nil), now, events.SignVerified},
		{"plain other email", plain, base(vecPlain, map[string]any{"email": "mallory@example.com"}), now, events.SignInvalid},
		{"plain under keyed", keyed, base(vecPlain, map[string]any{"uphone": "158****2496", "uemail": "cust@example.com"}), now, events.SignInvalid},
		{"keyed both", keyed, base(vecKeyedBoth, map[string]any{"uphone": "158****2496", "uemail": "cust@example.com"}), now, events.SignVerified},
		{"keyed timestamp as string", keyed, base(vecKeyedBoth, map[string]any{"timestamp": "1763717400000", "uphone": "158****2496", "uemail": "cust@example.com"}), now, events.SignVerified},
		{"keyed empty uphone", keyed, base(vecNoPhone, map[string]any{"uphone": "", "uemail": "cust@example.com"}), now, events.SignVerified},
		{"keyed null uphone", keyed, base(vecNoPhone, map[string]any{"uphone": nil, "uemail": "cust@example.com"}), now, events.SignVerified},
		{"keyed no uemail", keyed, base(vecNoEmail, map[string]any{"uphone": "158****2496"}), now, events.SignVerified},
		{"keyed neither", keyed, base(vecNeither, nil), now, events.SignVerified},
		{"keyed phone changed", keyed, base(vecKeyedBoth, map[string]any{"uphone": "139****0000", "uemail": "cust@example.com"}), now, events.SignInvalid},
		{"keyed wrong key", events.SignKey{SysNum: "800123", Key: "other", Window: time.Hour}, base(vecNeither, nil), now, events.SignInvalid},
		{"zeros", keyed, base(strings.Repeat("0", 32), nil), now, events.SignInvalid},
		{"not hex", keyed, base(strings.Repeat("z", 32), nil), now, events.SignInvalid},
		{"short", keyed, base(vecNeither[:31], nil), now, events.SignInvalid},
		{"absent", keyed, map[string]any{"callId": "C-1", "timestamp": ts}, now, events.SignAbsent},
		{"empty", keyed, base("", nil), now, events.SignAbsent},
		{"no timestamp", plain, map[string]any{"email": "agent@example.com", "sign": vecPlain}, now, events.SignStale},
		{"eleven minutes late", keyed, base(vecNeither, nil), time.UnixMilli(ts).Add(11 * time.Minute), events.SignStale},
		{"eleven minutes early", keyed, base(vecNeither, nil), time.UnixMilli(ts).Add(-11 * time.Minute), events.SignStale},
		{"year 2000", keyed, base(strings.Repeat("0", 32), map[string]any{"timestamp": 946684800000}), now, events.SignStale},
		{"no window", events.SignKey{SysNum: "800123", Key: "k3y-Secret"}, base(vecNeither, nil), time.UnixMilli(ts).Add(1000 * time.Hour), events.SignVerified},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.key.Check(talk(t, c.params), c.now); got != c.want {
				t.Errorf("got verdict %d (%s), want %d (%s)", got, got.Signature(), c.want, c.want.Signature())
			}
		})
	}
}

func TestSignCheckAllocatesNothing(t *testing.T) {
	key := events.SignKey{SysNum: "800123", Key: "k3y-Secret", Window: 10 * time.Minute}
	m := talk(t, map[string]any{"timestamp": 1763717400000, "uphone": "158****2496", "uemail": "cust@example.com", "sign": vecKeyedBoth})
	now := time.UnixMilli(1763717400000)
	if n := testing.AllocsPerRun(100, func() { key.Check(m, now) }); n != 0 {
		t.Errorf("got %v allocations per check, want 0", n)
	}
}
