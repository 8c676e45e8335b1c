package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Tokens verifies the short-lived client tokens that an integrator's back end
// mints for the agent's page (contract A): JSON Web Tokens signed with
// HMAC-SHA256 under a secret shared with the relay. A token must carry `sub`
// (who the agent is: it becomes the published events' agent.subject) and
// `exp`; `nbf` and `iat` are honoured when present. Several secrets may be
// configured so that a secret can be rotated without downtime: a token
// signed with any of them is accepted. Tokens is safe for concurrent use.
type Tokens struct {
	secrets [][]byte
	leeway  time.Duration
}

// Token limits.
const (
	// MinTokenSecretBytes is the shortest secret accepted (256 bits).
	MinTokenSecretBytes = 32
	maxTokenBytes       = 4096
	// tokenLeeway absorbs clock differences between the minting back end
	// and the relay.
	tokenLeeway = time.Minute
)

// Why a token was refused; the metric label and the client-visible reason.
const (
	tokenMissing   = "missing"
	tokenMalformed = "malformed"
	tokenAlg       = "unsupported_alg"
	tokenSignature = "bad_signature"
	tokenExpired   = "expired"
	tokenNotYet    = "not_yet_valid"
	tokenNoSubject = "no_subject"
	tokenTimeout   = "hello_timeout"
)

// TokenError says why a token was refused. Its Reason is safe to show to
// the client and to log: it never contains the token.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return "token refused: " + e.Reason }

// NewTokens returns a verifier for secrets; nil when secrets is empty (tokens
// are then not required).
func NewTokens(secrets []string) (*Tokens, error) {
	t := &Tokens{leeway: tokenLeeway}
	for i, s := range secrets {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if len(s) < MinTokenSecretBytes {
			return nil, fmt.Errorf("token secret %d is %d bytes; use at least %d random bytes", i+1, len(s), MinTokenSecretBytes)
		}
		t.secrets = append(t.secrets, []byte(s))
	}
	if len(t.secrets) == 0 {
		return nil, nil
	}
	return t, nil
}

// Verify checks token at time now and returns its subject.
func (t *Tokens) Verify(token string, now time.Time) (subject string, err error) {
	if token == "" {
		return "", &TokenError{tokenMissing}
	}
	if len(token) > maxTokenBytes {
		return "", &TokenError{tokenMalformed}
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", &TokenError{tokenMalformed}
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return "", &TokenError{tokenMalformed}
	}
	if header.Alg != "HS256" {
		return "", &TokenError{tokenAlg}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", &TokenError{tokenMalformed}
	}
	signed := []byte(parts[0] + "." + parts[1])
	ok := false
	for _, secret := range t.secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write(signed)
		if hmac.Equal(mac.Sum(nil), sig) {
			ok = true
			break
		}
	}
	if !ok {
		return "", &TokenError{tokenSignature}
	}
	var claims struct {
		Sub string   `json:"sub"`
		Exp *float64 `json:"exp"`
		Nbf *float64 `json:"nbf"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "", &TokenError{tokenMalformed}
	}
	if claims.Exp == nil || now.Add(-t.leeway).After(unixTime(*claims.Exp)) {
		return "", &TokenError{tokenExpired}
	}
	if claims.Nbf != nil && now.Add(t.leeway).Before(unixTime(*claims.Nbf)) {
		return "", &TokenError{tokenNotYet}
	}
	if claims.Sub == "" || len(claims.Sub) > 256 {
		return "", &TokenError{tokenNoSubject}
	}
	return claims.Sub, nil
}

// Mint returns a token for sub, valid for ttl from now, signed with the first
// secret. The relay itself uses it only for its demo page; an integrator's
// back end mints tokens with any JWT library (see docs/protocol.md).
func (t *Tokens) Mint(sub string, ttl time.Duration, now time.Time) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"sub": sub, "iat": now.Unix(), "exp": now.Add(ttl).Unix()})
	signed := header + "." + base64.RawURLEncoding.EncodeToString(claims)
	mac := hmac.New(sha256.New, t.secrets[0])
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// tokenReason is the reason of a token error, "malformed" for others.
func tokenReason(err error) string {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Reason
	}
	return tokenMalformed
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func unixTime(sec float64) time.Time {
	return time.Unix(0, int64(sec*float64(time.Second)))
}
