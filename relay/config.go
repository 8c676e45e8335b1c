package relay

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/redact"
)

// Config is everything the relay service needs, as plain values. The zero
// value of a field means its default; Validate reports what is wrong before
// anything listens.
type Config struct {
	// SubjectPrefix and Tenant name the subjects (contract C).
	SubjectPrefix string
	Tenant        string

	// AllowedOrigins lists the browser origins (exact, or "https://*.domain"
	// patterns) that may open a WebSocket or POST events. The relay's own
	// origin is allowed without listing when it is a loopback address.
	AllowedOrigins []string
	// AllowNoOrigin admits requests without an Origin header (non-browser
	// clients such as curl or a back end).
	AllowNoOrigin bool

	// MaxMessageBytes bounds one WebSocket frame and one event's data.
	MaxMessageBytes int
	// MaxBatchBytes and MaxBatchEvents bound one POST /v1/events body.
	MaxBatchBytes  int
	MaxBatchEvents int
	// StrictMessageIDs refuses callBarEvents whose messageID is not one of
	// the 14 documented ones.
	StrictMessageIDs bool

	// DedupWindow is how long a published event id is remembered; DedupMax
	// caps how many are remembered.
	DedupWindow time.Duration
	DedupMax    int

	// CallEndedTTL is how long a call's correlation state is kept after it
	// ended (EventCallDeleted); CallIdleTTL how long a call or agent without
	// any event is kept. MaxCalls and MaxAgents cap the entries held in
	// memory (the oldest are evicted beyond).
	CallEndedTTL time.Duration
	CallIdleTTL  time.Duration
	MaxCalls     int
	MaxAgents    int
	// MaxStateBytes caps the bytes the calls hold in memory (their talk
	// details above all); beyond it the least recently changed are evicted.
	MaxStateBytes int

	// PublishTimeout bounds one publish to the sink.
	PublishTimeout time.Duration
	// Window is how many events of one WebSocket connection may be in
	// flight at once (read, not yet answered); the reader waits beyond it.
	Window int
	// DrainGrace is how long, at most, a WebSocket is still read after a
	// shutdown began, so that frames its client sent before it heard are
	// answered (DESIGN §4); reading stops sooner once the client is quiet.
	DrainGrace time.Duration

	// TokenSecrets, when not empty, makes client tokens required: HS256 JSON
	// Web Tokens signed with any of these secrets (several allow rotation).
	// HelloTimeout is how long a WebSocket client then has to send its hello
	// frame with a token.
	TokenSecrets []string
	HelloTimeout time.Duration
	// TokenAudience and TokenIssuer, when set, are required in every
	// token: its aud must contain TokenAudience, its iss must be
	// TokenIssuer. They need TokenSecrets.
	TokenAudience string
	TokenIssuer   string
	// TokenTenantClaim names the token claim that chooses the tenant of
	// the token's events (default "tenant"; "-" reads none); with
	// RequireTenantClaim, a token without it is refused.
	TokenTenantClaim   string
	RequireTenantClaim bool
	// PingInterval is how often the relay pings an idle WebSocket; a
	// connection that has sent nothing (not even a pong) for PongWait is
	// closed. WriteWait bounds one frame write.
	PingInterval time.Duration
	PongWait     time.Duration
	WriteWait    time.Duration

	// SignMode says what the relay does with the Sobot sign of talk
	// details: SignOff (nothing, the default), SignMark (publish them with
	// their signature verdict) or SignRequire (refuse those not verified).
	// SobotSysNum is the contact centre's sysNum; SobotKey, when set, its
	// security key (a secret: the keyed formula is used then). SignWindow
	// bounds how far the talk details' timestamp may be from the relay's
	// clock, either way.
	SignMode    string
	SobotSysNum string
	SobotKey    string
	SignWindow  time.Duration

	// MaxTalkBytes bounds the params of one talk-details message.
	// MaxClockSkew bounds how far a phone-bar event's creationTime may be
	// from the relay's clock, either way.
	MaxTalkBytes int
	MaxClockSkew time.Duration
	// RateLimit is how many events per second one WebSocket connection may
	// send on average, RateBurst how many at once (a token bucket); beyond
	// it events are answered rate_limited with retry:true.
	RateLimit float64
	RateBurst int
	// MaxConnections caps the WebSocket connections open at once; beyond
	// it an upgrade is answered 503 too_many_connections.
	MaxConnections int

	// Redaction is the personal-data policy applied to everything the relay
	// publishes and keeps outside its memory; nil publishes everything as
	// received (the preset none).
	Redaction *redact.Policy

	// Version is reported in callrelay_build_info.
	Version string
}

// Defaults of Config.
const (
	DefaultSubjectPrefix = "agentcall"
	DefaultTenant        = "default"
	// DefaultTokenTenantClaim is the claim that names a token's tenant.
	DefaultTokenTenantClaim = "tenant"
	DefaultMaxBatchBytes    = 1 << 20
	DefaultMaxBatchEvents   = 500
	DefaultDedupWindow      = correlate.DefaultDedupWindow
	DefaultDedupMax         = correlate.DefaultDedupMax
	DefaultWindow           = 64
	DefaultDrainGrace       = 3 * time.Second
	DefaultPublishTimeout   = 5 * time.Second
	DefaultHelloTimeout     = 10 * time.Second
	DefaultCallEndedTTL     = correlate.DefaultCallEndedTTL
	DefaultCallIdleTTL      = correlate.DefaultCallIdleTTL
	DefaultMaxCalls         = correlate.DefaultMaxCalls
	DefaultMaxAgents        = correlate.DefaultMaxAgents
	DefaultMaxStateBytes    = correlate.DefaultMaxCallBytes
	DefaultPingInterval     = 25 * time.Second
	DefaultPongWait         = 60 * time.Second
	DefaultWriteWait        = 10 * time.Second
	DefaultSignWindow       = 10 * time.Minute
	DefaultMaxTalkBytes     = 8 << 10
	DefaultMaxClockSkew     = 24 * time.Hour
	DefaultRateLimit        = 50
	DefaultRateBurst        = 500
	DefaultMaxConnections   = 10000
)

// Values of Config.SignMode.
const (
	SignOff     = "off"
	SignMark    = "mark"
	SignRequire = "require"
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setStr := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	setStr(&c.SubjectPrefix, DefaultSubjectPrefix)
	setStr(&c.Tenant, DefaultTenant)
	setStr(&c.Version, "dev")
	setStr(&c.TokenTenantClaim, DefaultTokenTenantClaim)
	setInt(&c.MaxMessageBytes, events.DefaultMaxBytes)
	setInt(&c.MaxBatchBytes, DefaultMaxBatchBytes)
	setInt(&c.MaxBatchEvents, DefaultMaxBatchEvents)
	setInt(&c.DedupMax, DefaultDedupMax)
	setDur(&c.DedupWindow, DefaultDedupWindow)
	setDur(&c.PublishTimeout, DefaultPublishTimeout)
	setInt(&c.Window, DefaultWindow)
	setDur(&c.DrainGrace, DefaultDrainGrace)
	setDur(&c.HelloTimeout, DefaultHelloTimeout)
	setDur(&c.CallEndedTTL, DefaultCallEndedTTL)
	setDur(&c.CallIdleTTL, DefaultCallIdleTTL)
	setInt(&c.MaxCalls, DefaultMaxCalls)
	setInt(&c.MaxAgents, DefaultMaxAgents)
	setInt(&c.MaxStateBytes, DefaultMaxStateBytes)
	setDur(&c.PingInterval, DefaultPingInterval)
	setDur(&c.PongWait, DefaultPongWait)
	setDur(&c.WriteWait, DefaultWriteWait)
	setStr(&c.SignMode, SignOff)
	setDur(&c.SignWindow, DefaultSignWindow)
	setInt(&c.MaxTalkBytes, DefaultMaxTalkBytes)
	setDur(&c.MaxClockSkew, DefaultMaxClockSkew)
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	setInt(&c.RateBurst, DefaultRateBurst)
	setInt(&c.MaxConnections, DefaultMaxConnections)
	return c
}

// FieldError is a problem with one setting: its name (as Validate's
// messages say it, e.g. "tenant"), its value as given (empty for a secret,
// which is never shown), and what is wrong. A problem that compares with
// another setting names it in Related and writes "{}" where it goes. main
// maps the names onto its flags with Describe.
type FieldError struct {
	Field   string
	Value   string
	Problem string
	Related string
}

// Describe writes the problem with each setting named by name(setting).
func (e *FieldError) Describe(name func(setting string) string) string {
	s := name(e.Field)
	if e.Value != "" {
		s += " " + e.Value
	}
	return s + ": " + strings.ReplaceAll(e.Problem, "{}", name(e.Related))
}

func (e *FieldError) Error() string {
	return e.Describe(func(s string) string { return s })
}

// fieldErr returns a FieldError for a value shown with %v (strings quoted).
func fieldErr(field string, value any, problem string) *FieldError {
	v := fmt.Sprint(value)
	if s, ok := value.(string); ok {
		v = strconv.Quote(s)
	}
	return &FieldError{Field: field, Value: v, Problem: problem}
}

// OriginErrors returns one FieldError named field for each entry of an
// origin list that NewOriginPolicy refused; other errors are returned as
// they are.
func OriginErrors(field string, err error) []error {
	var out []error
	for _, e := range leafErrors(err) {
		var oe *OriginError
		if errors.As(e, &oe) {
			out = append(out, &FieldError{Field: field, Value: strconv.Quote(oe.Origin), Problem: oe.Err.Error()})
			continue
		}
		out = append(out, e)
	}
	return out
}

// leafErrors flattens errors joined with errors.Join.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// Validate reports every problem of c (after defaults) in one error: the
// FieldErrors joined with errors.Join.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if _, err := events.NewSubjects(c.SubjectPrefix, DefaultTenant); err != nil {
		errs = append(errs, fieldErr("subject prefix", c.SubjectPrefix, "must be dot-separated tokens of letters, digits, '_' or '-'"))
	}
	if !events.ValidTenant(c.Tenant) {
		errs = append(errs, fieldErr("tenant", c.Tenant, "must be 1 to 64 letters, digits, '_' or '-'"))
	}
	if _, err := NewTokens(c.TokenSecrets); err != nil {
		errs = append(errs, &FieldError{Field: "token secret", Problem: err.Error()})
	}
	if c.TokenTenantClaim != "-" && !validClaimName(c.TokenTenantClaim) {
		errs = append(errs, fieldErr("token tenant claim", c.TokenTenantClaim, "must be 1 to 64 letters, digits, '_', '-', ':' or '.' (or - for none)"))
	}
	if c.RequireTenantClaim && c.TokenTenantClaim == "-" {
		errs = append(errs, &FieldError{Field: "require tenant claim", Value: "true", Problem: "needs a claim: {} is -", Related: "token tenant claim"})
	}
	if len(c.TokenSecrets) == 0 {
		if c.RequireTenantClaim {
			errs = append(errs, &FieldError{Field: "require tenant claim", Value: "true", Problem: "checks tokens, which only {} turns on", Related: "token secret"})
		}
		if c.TokenAudience != "" {
			errs = append(errs, &FieldError{Field: "token audience", Value: strconv.Quote(c.TokenAudience), Problem: "checks tokens, which only {} turns on", Related: "token secret"})
		}
		if c.TokenIssuer != "" {
			errs = append(errs, &FieldError{Field: "token issuer", Value: strconv.Quote(c.TokenIssuer), Problem: "checks tokens, which only {} turns on", Related: "token secret"})
		}
	}
	if _, err := NewOriginPolicy(c.AllowedOrigins, c.AllowNoOrigin); err != nil {
		errs = append(errs, OriginErrors("allowed origin", err)...)
	}
	positive := []struct {
		name string
		v    int64
		show any
	}{
		{"max message bytes", int64(c.MaxMessageBytes), c.MaxMessageBytes},
		{"max batch bytes", int64(c.MaxBatchBytes), c.MaxBatchBytes},
		{"max batch events", int64(c.MaxBatchEvents), c.MaxBatchEvents},
		{"dedup max", int64(c.DedupMax), c.DedupMax},
		{"dedup window", int64(c.DedupWindow), c.DedupWindow},
		{"publish timeout", int64(c.PublishTimeout), c.PublishTimeout},
		{"window", int64(c.Window), c.Window},
		{"drain grace", int64(c.DrainGrace), c.DrainGrace},
		{"hello timeout", int64(c.HelloTimeout), c.HelloTimeout},
		{"call ended ttl", int64(c.CallEndedTTL), c.CallEndedTTL},
		{"call idle ttl", int64(c.CallIdleTTL), c.CallIdleTTL},
		{"max calls", int64(c.MaxCalls), c.MaxCalls},
		{"max agents", int64(c.MaxAgents), c.MaxAgents},
		{"max state bytes", int64(c.MaxStateBytes), c.MaxStateBytes},
		{"ping interval", int64(c.PingInterval), c.PingInterval},
		{"pong wait", int64(c.PongWait), c.PongWait},
		{"write wait", int64(c.WriteWait), c.WriteWait},
		{"sign window", int64(c.SignWindow), c.SignWindow},
		{"max talk bytes", int64(c.MaxTalkBytes), c.MaxTalkBytes},
		{"max clock skew", int64(c.MaxClockSkew), c.MaxClockSkew},
		{"rate burst", int64(c.RateBurst), c.RateBurst},
		{"max connections", int64(c.MaxConnections), c.MaxConnections},
	}
	for _, p := range positive {
		if p.v < 0 {
			errs = append(errs, fieldErr(p.name, p.show, "must be positive"))
		}
	}
	if c.RateLimit < 0 {
		errs = append(errs, fieldErr("rate limit", c.RateLimit, "must be positive"))
	}
	errs = append(errs, c.signErrors()...)
	if c.Window > 4096 {
		errs = append(errs, fieldErr("window", c.Window, "must be at most 4096"))
	}
	if c.MaxMessageBytes > 16<<20 {
		errs = append(errs, fieldErr("max message bytes", c.MaxMessageBytes, "is above 16 MiB (16777216)"))
	}
	if c.MaxBatchBytes < c.MaxMessageBytes {
		errs = append(errs, &FieldError{Field: "max batch bytes", Value: fmt.Sprint(c.MaxBatchBytes),
			Problem: fmt.Sprintf("must be at least {} (%d)", c.MaxMessageBytes), Related: "max message bytes"})
	}
	if c.CallIdleTTL < c.CallEndedTTL {
		errs = append(errs, &FieldError{Field: "call idle ttl", Value: c.CallIdleTTL.String(),
			Problem: fmt.Sprintf("must not be shorter than {} (%s)", c.CallEndedTTL), Related: "call ended ttl"})
	}
	if c.PongWait <= c.PingInterval {
		errs = append(errs, &FieldError{Field: "pong wait", Value: c.PongWait.String(),
			Problem: fmt.Sprintf("must be longer than the {} (%s)", c.PingInterval), Related: "ping interval"})
	}
	return errors.Join(errs...)
}

// validClaimName reports whether s can name a JWT claim here.
func validClaimName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

// tenantOption is the token option of TokenTenantClaim and
// RequireTenantClaim.
func (c Config) tenantOption() TokenOption {
	claim := c.TokenTenantClaim
	if claim == "" {
		claim = DefaultTokenTenantClaim
	}
	if claim == "-" {
		claim = ""
	}
	return TokenTenant(claim, c.RequireTenantClaim)
}

// signErrors reports the problems of the sign settings. The key is a
// secret: its value is never shown.
func (c Config) signErrors() []error {
	var errs []error
	switch c.SignMode {
	case SignOff:
		if c.SobotSysNum != "" {
			errs = append(errs, &FieldError{Field: "sobot sysnum", Value: strconv.Quote(c.SobotSysNum), Problem: "checks signs, which only {} mark or require turns on", Related: "sobot sign"})
		}
		if c.SobotKey != "" {
			errs = append(errs, &FieldError{Field: "sobot key", Problem: "checks signs, which only {} mark or require turns on", Related: "sobot sign"})
		}
	case SignMark, SignRequire:
		if c.SobotSysNum == "" {
			errs = append(errs, &FieldError{Field: "sobot sysnum", Problem: "is required to check signs (the contact centre's sysNum, from the Sobot admin console)"})
		}
	default:
		errs = append(errs, fieldErr("sobot sign", c.SignMode, "must be off, mark or require"))
	}
	return errs
}
