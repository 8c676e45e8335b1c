package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callrelay/callrelay/events"
)

// Tokens verifies the short-lived client tokens that an integrator's back end
// mints for the agent's page (contract A): JSON Web Tokens signed with
// HMAC-SHA256 under a secret shared with the relay, verified with
// github.com/golang-jwt/jwt/v5. A token must carry `sub` (who the agent is:
// it becomes the published events' agent.subject) and `exp`; `nbf` is
// honoured when present; `iat` is not checked (it only says when the token
// was made). When an audience or an issuer is configured, the token's `aud`
// must contain it and its `iss` must equal it. Several secrets may be
// configured so that a secret can be rotated without downtime: a token
// signed with any of them is accepted. Tokens is safe for concurrent use.
type Tokens struct {
	keys          jwt.VerificationKeySet
	secret        []byte // the first secret, which Mint signs with
	leeway        time.Duration
	audience      string
	issuer        string
	tenantClaim   string // the claim naming the tenant; "" reads none
	requireTenant bool
}

// Identity is what a valid token says of its holder.
type Identity struct {
	// Subject is the token's sub: who the agent is.
	Subject string
	// Tenant is the token's tenant claim, "" when it has none (the relay's
	// own tenant then applies).
	Tenant string
}

// TokenOption adds a check to NewTokens.
type TokenOption func(*Tokens)

// TokenAudience makes the token's `aud` claim required and requires it to
// contain aud; "" checks nothing.
func TokenAudience(aud string) TokenOption { return func(t *Tokens) { t.audience = aud } }

// TokenIssuer makes the token's `iss` claim required and requires it to be
// iss; "" checks nothing.
func TokenIssuer(iss string) TokenOption { return func(t *Tokens) { t.issuer = iss } }

// TokenTenant makes the claim named claim choose the tenant of the
// token's events (DESIGN §5: one relay, several contact centres); with
// required, a token without it is refused. The claim's value must be a
// valid tenant ([A-Za-z0-9_-], 1 to 64), or the token is refused.
func TokenTenant(claim string, required bool) TokenOption {
	return func(t *Tokens) { t.tenantClaim, t.requireTenant = claim, required }
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
	tokenAudience  = "bad_audience"
	tokenIssuer    = "bad_issuer"
	tokenTimeout   = "hello_timeout"
	tokenNoTenant  = "no_tenant"
	tokenBadTenant = "bad_tenant"
)

// TokenError says why a token was refused. Its Reason is safe to show to
// the client and to log: it never contains the token.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return "token refused: " + e.Reason }

// NewTokens returns a verifier for secrets with the checks of opts; nil
// when secrets is empty (tokens are then not required).
func NewTokens(secrets []string, opts ...TokenOption) (*Tokens, error) {
	t := &Tokens{leeway: tokenLeeway}
	for i, s := range secrets {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if len(s) < MinTokenSecretBytes {
			return nil, fmt.Errorf("secret %d is %d bytes; use at least %d random bytes", i+1, len(s), MinTokenSecretBytes)
		}
		t.keys.Keys = append(t.keys.Keys, []byte(s))
	}
	if len(t.keys.Keys) == 0 {
		return nil, nil
	}
	t.secret = t.keys.Keys[0].([]byte)
	for _, o := range opts {
		o(t)
	}
	return t, nil
}

// errAlg is what the key function answers for a token not signed with HS256.
var errAlg = errors.New("token not signed with HS256")

// Verify checks token at time now and returns its subject.
func (t *Tokens) Verify(token string, now time.Time) (subject string, err error) {
	id, err := t.VerifyIdentity(token, now)
	return id.Subject, err
}

// tokenClaims are the registered claims and every other claim as received,
// for the configurable tenant claim.
type tokenClaims struct {
	jwt.RegisteredClaims
	extra map[string]json.RawMessage
}

func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.RegisteredClaims); err != nil {
		return err
	}
	return json.Unmarshal(b, &c.extra)
}

// VerifyIdentity checks token at time now and returns its subject and
// tenant.
func (t *Tokens) VerifyIdentity(token string, now time.Time) (Identity, error) {
	if token == "" {
		return Identity{}, &TokenError{tokenMissing}
	}
	if len(token) > maxTokenBytes {
		return Identity{}, &TokenError{tokenMalformed}
	}
	opts := []jwt.ParserOption{
		jwt.WithLeeway(t.leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired(),
	}
	if t.audience != "" {
		opts = append(opts, jwt.WithAudience(t.audience))
	}
	if t.issuer != "" {
		opts = append(opts, jwt.WithIssuer(t.issuer))
	}
	var claims tokenClaims
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		// The algorithm is checked here rather than with
		// jwt.WithValidMethods, which reports a wrong one as a bad
		// signature: alg "none", an RSA or an HS512 token are refused
		// before any key is used.
		if tok.Method != jwt.SigningMethodHS256 {
			return nil, errAlg
		}
		return t.keys, nil
	})
	if err != nil {
		return Identity{}, &TokenError{t.reason(err, &claims.RegisteredClaims)}
	}
	if claims.Subject == "" || len(claims.Subject) > 256 {
		return Identity{}, &TokenError{tokenNoSubject}
	}
	id := Identity{Subject: claims.Subject}
	if t.tenantClaim != "" {
		raw, ok := claims.extra[t.tenantClaim]
		switch {
		case !ok || string(raw) == "null":
			if t.requireTenant {
				return Identity{}, &TokenError{tokenNoTenant}
			}
		default:
			var tenant string
			if json.Unmarshal(raw, &tenant) != nil || !events.ValidTenant(tenant) {
				return Identity{}, &TokenError{tokenBadTenant}
			}
			id.Tenant = tenant
		}
	}
	return id, nil
}

// reason maps an error of the JWT library onto a refusal reason. A missing
// required claim is reported as the claim's own failure: no exp as expired,
// no aud as a bad audience, no iss as a bad issuer.
func (t *Tokens) reason(err error, claims *jwt.RegisteredClaims) string {
	missing := errors.Is(err, jwt.ErrTokenRequiredClaimMissing)
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return tokenMalformed
	case errors.Is(err, errAlg), errors.Is(err, jwt.ErrTokenUnverifiable):
		return tokenAlg // alg unknown, missing, or not HS256
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return tokenSignature
	case errors.Is(err, jwt.ErrTokenExpired), missing && claims.ExpiresAt == nil:
		return tokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return tokenNotYet
	case errors.Is(err, jwt.ErrTokenInvalidAudience), missing && t.audience != "" && len(claims.Audience) == 0:
		return tokenAudience
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), missing && t.issuer != "" && claims.Issuer == "":
		return tokenIssuer
	}
	return tokenMalformed
}

// Mint returns a token for sub, valid for ttl from now, signed with the first
// secret and carrying the configured audience and issuer. The relay itself
// uses it only for its demo page; an integrator's back end mints tokens with
// any JWT library (see docs/protocol.md).
func (t *Tokens) Mint(sub string, ttl time.Duration, now time.Time) string {
	claims := jwt.RegisteredClaims{
		Subject:   sub,
		Issuer:    t.issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	if t.audience != "" {
		claims.Audience = jwt.ClaimStrings{t.audience}
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		panic("relay: sign a token: " + err.Error()) // only with a key that is not []byte
	}
	return signed
}

// tokenReason is the reason of a token error, "malformed" for others.
func tokenReason(err error) string {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Reason
	}
	return tokenMalformed
}
