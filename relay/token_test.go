package relay_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callrelay/callrelay/relay"
)

const (
	secretA = "0123456789abcdef0123456789abcdef-secret-A"
	secretB = "fedcba9876543210fedcba9876543210-secret-B"
)

// mintToken signs claims with secret as an HS256 JWT, the way an
// integrator's back end would.
func mintToken(secret string, header, claims map[string]any) string {
	if header == nil {
		header = map[string]any{"alg": "HS256", "typ": "JWT"}
	}
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestTokensVerify(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	exp := float64(now.Add(5 * time.Minute).Unix())
	tokens, err := relay.NewTokens([]string{secretA, secretB})
	if err != nil {
		t.Fatal(err)
	}
	valid := mintToken(secretA, nil, map[string]any{"sub": "agent-1001", "exp": exp})
	parts := strings.Split(valid, ".")
	cases := []struct {
		name    string
		token   string
		wantSub string
		reason  string
	}{
		{"valid", valid, "agent-1001", ""},
		{"signed with the second secret (rotation)", mintToken(secretB, nil, map[string]any{"sub": "agent-2", "exp": exp}), "agent-2", ""},
		{"nbf in the past", mintToken(secretA, nil, map[string]any{"sub": "a", "exp": exp, "nbf": float64(now.Add(-time.Hour).Unix())}), "a", ""},
		{"expired within the leeway", mintToken(secretA, nil, map[string]any{"sub": "a", "exp": float64(now.Add(-30 * time.Second).Unix())}), "a", ""},
		{"missing", "", "", "missing"},
		{"not three parts", "abc.def", "", "malformed"},
		{"header not base64", "!!." + parts[1] + "." + parts[2], "", "malformed"},
		{"alg none", mintToken(secretA, map[string]any{"alg": "none"}, map[string]any{"sub": "a", "exp": exp}), "", "unsupported_alg"},
		{"alg none, no signature", unsigned(map[string]any{"alg": "none"}, map[string]any{"sub": "a", "exp": exp}), "", "unsupported_alg"},
		{"alg HS512", mintToken(secretA, map[string]any{"alg": "HS512"}, map[string]any{"sub": "a", "exp": exp}), "", "unsupported_alg"},
		{"alg switched to RS256", mintToken(secretA, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{"sub": "a", "exp": exp}), "", "unsupported_alg"},
		{"alg unknown", mintToken(secretA, map[string]any{"alg": "XX999"}, map[string]any{"sub": "a", "exp": exp}), "", "unsupported_alg"},
		{"no alg", mintToken(secretA, map[string]any{"typ": "JWT"}, map[string]any{"sub": "a", "exp": exp}), "", "unsupported_alg"},
		{"exp not a number", mintToken(secretA, nil, map[string]any{"sub": "a", "exp": "tomorrow"}), "", "malformed"},
		{"aud and iss not checked when not configured", mintToken(secretA, nil, map[string]any{"sub": "a", "exp": exp, "aud": "other", "iss": "other"}), "a", ""},
		{"unknown secret", mintToken("another-secret-another-secret-another", nil, map[string]any{"sub": "a", "exp": exp}), "", "bad_signature"},
		{"claims changed after signing", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","exp":9999999999}`)) + "." + parts[2], "", "bad_signature"},
		{"no signature", parts[0] + "." + parts[1] + ".", "", "bad_signature"},
		{"expired", mintToken(secretA, nil, map[string]any{"sub": "a", "exp": float64(now.Add(-2 * time.Minute).Unix())}), "", "expired"},
		{"no exp", mintToken(secretA, nil, map[string]any{"sub": "a"}), "", "expired"},
		{"not yet valid", mintToken(secretA, nil, map[string]any{"sub": "a", "exp": exp, "nbf": float64(now.Add(2 * time.Minute).Unix())}), "", "not_yet_valid"},
		{"no subject", mintToken(secretA, nil, map[string]any{"exp": exp}), "", "no_subject"},
		{"too long", strings.Repeat("a", 5000), "", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := tokens.Verify(tc.token, now)
			if tc.reason == "" {
				if err != nil || sub != tc.wantSub {
					t.Fatalf("got %q, %v; want %q", sub, err, tc.wantSub)
				}
				return
			}
			var te *relay.TokenError
			if !errors.As(err, &te) || te.Reason != tc.reason {
				t.Fatalf("got %q, %v; want reason %s", sub, err, tc.reason)
			}
			if strings.Contains(err.Error(), tc.token) && tc.token != "" {
				t.Fatalf("the error quotes the token: %v", err)
			}
		})
	}
}

// unsigned returns a token with an empty signature, as alg "none" has.
func unsigned(header, claims map[string]any) string {
	t := mintToken(secretA, header, claims)
	return t[:strings.LastIndex(t, ".")+1]
}

// With an audience and an issuer configured, a token must name both.
func TestTokensAudienceAndIssuer(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	exp := float64(now.Add(5 * time.Minute).Unix())
	tokens, err := relay.NewTokens([]string{secretA}, relay.TokenAudience("callrelay"), relay.TokenIssuer("https://crm.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	claims := func(extra map[string]any) map[string]any {
		c := map[string]any{"sub": "agent-1", "exp": exp}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
				continue
			}
			c[k] = v
		}
		return c
	}
	good := map[string]any{"aud": "callrelay", "iss": "https://crm.example.com"}
	cases := []struct {
		name   string
		extra  map[string]any
		reason string
	}{
		{"both right", good, ""},
		{"aud a list containing it", map[string]any{"aud": []string{"billing", "callrelay"}, "iss": "https://crm.example.com"}, ""},
		{"other audience", map[string]any{"aud": "billing", "iss": "https://crm.example.com"}, "bad_audience"},
		{"no audience", map[string]any{"iss": "https://crm.example.com"}, "bad_audience"},
		{"other issuer", map[string]any{"aud": "callrelay", "iss": "https://evil.example.com"}, "bad_issuer"},
		{"no issuer", map[string]any{"aud": "callrelay"}, "bad_issuer"},
		{"expired beats audience", map[string]any{"aud": "billing", "exp": float64(now.Add(-time.Hour).Unix())}, "expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := tokens.Verify(mintToken(secretA, nil, claims(tc.extra)), now)
			if tc.reason == "" {
				if err != nil || sub != "agent-1" {
					t.Fatalf("got %q, %v; want agent-1", sub, err)
				}
				return
			}
			var te *relay.TokenError
			if !errors.As(err, &te) || te.Reason != tc.reason {
				t.Fatalf("got %q, %v; want reason %s", sub, err, tc.reason)
			}
		})
	}
	// The demo's tokens carry both, so they pass.
	if sub, err := tokens.Verify(tokens.Mint("demo", time.Hour, now), now); err != nil || sub != "demo" {
		t.Errorf("minted token: got %q, %v; want demo", sub, err)
	}
}

func TestNewTokens(t *testing.T) {
	if tok, err := relay.NewTokens(nil); tok != nil || err != nil {
		t.Errorf("no secrets: got %v, %v; want nil, nil (tokens not required)", tok, err)
	}
	if tok, err := relay.NewTokens([]string{" ", ""}); tok != nil || err != nil {
		t.Errorf("blank secrets: got %v, %v; want nil, nil", tok, err)
	}
	if _, err := relay.NewTokens([]string{"short"}); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("short secret: got %v; want an error that does not quote the secret", err)
	}
	if err := (relay.Config{TokenSecrets: []string{"short"}}).Validate(); err == nil {
		t.Error("Config.Validate accepted a short token secret")
	}
}
