package relay

import (
	"errors"
	"fmt"
	"time"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
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
	// PingInterval is how often the relay pings an idle WebSocket; a
	// connection that has sent nothing (not even a pong) for PongWait is
	// closed. WriteWait bounds one frame write.
	PingInterval time.Duration
	PongWait     time.Duration
	WriteWait    time.Duration

	// Version is reported in callrelay_build_info.
	Version string
}

// Defaults of Config.
const (
	DefaultSubjectPrefix  = "agentcall"
	DefaultTenant         = "default"
	DefaultMaxBatchBytes  = 1 << 20
	DefaultMaxBatchEvents = 500
	DefaultDedupWindow    = correlate.DefaultDedupWindow
	DefaultDedupMax       = correlate.DefaultDedupMax
	DefaultWindow         = 64
	DefaultDrainGrace     = 3 * time.Second
	DefaultPublishTimeout = 5 * time.Second
	DefaultHelloTimeout   = 10 * time.Second
	DefaultCallEndedTTL   = correlate.DefaultCallEndedTTL
	DefaultCallIdleTTL    = correlate.DefaultCallIdleTTL
	DefaultMaxCalls       = correlate.DefaultMaxCalls
	DefaultMaxAgents      = correlate.DefaultMaxAgents
	DefaultPingInterval   = 25 * time.Second
	DefaultPongWait       = 60 * time.Second
	DefaultWriteWait      = 10 * time.Second
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
	setDur(&c.PingInterval, DefaultPingInterval)
	setDur(&c.PongWait, DefaultPongWait)
	setDur(&c.WriteWait, DefaultWriteWait)
	return c
}

// Validate reports every problem of c (after defaults) in one error.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if _, err := events.NewSubjects(c.SubjectPrefix, c.Tenant); err != nil {
		errs = append(errs, err)
	}
	if _, err := NewTokens(c.TokenSecrets); err != nil {
		errs = append(errs, err)
	}
	if _, err := NewOriginPolicy(c.AllowedOrigins, c.AllowNoOrigin); err != nil {
		errs = append(errs, err)
	}
	positive := []struct {
		name string
		v    int64
	}{
		{"max message bytes", int64(c.MaxMessageBytes)},
		{"max batch bytes", int64(c.MaxBatchBytes)},
		{"max batch events", int64(c.MaxBatchEvents)},
		{"dedup max", int64(c.DedupMax)},
		{"dedup window", int64(c.DedupWindow)},
		{"publish timeout", int64(c.PublishTimeout)},
		{"window", int64(c.Window)},
		{"drain grace", int64(c.DrainGrace)},
		{"hello timeout", int64(c.HelloTimeout)},
		{"call ended ttl", int64(c.CallEndedTTL)},
		{"call idle ttl", int64(c.CallIdleTTL)},
		{"max calls", int64(c.MaxCalls)},
		{"max agents", int64(c.MaxAgents)},
		{"ping interval", int64(c.PingInterval)},
		{"pong wait", int64(c.PongWait)},
		{"write wait", int64(c.WriteWait)},
	}
	for _, p := range positive {
		if p.v < 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", p.name))
		}
	}
	if c.Window > 4096 {
		errs = append(errs, fmt.Errorf("window %d is above 4096", c.Window))
	}
	if c.MaxMessageBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("max message bytes %d is above 16 MiB", c.MaxMessageBytes))
	}
	if c.MaxBatchBytes < c.MaxMessageBytes {
		errs = append(errs, fmt.Errorf("max batch bytes (%d) must be at least max message bytes (%d)", c.MaxBatchBytes, c.MaxMessageBytes))
	}
	if c.CallIdleTTL < c.CallEndedTTL {
		errs = append(errs, fmt.Errorf("call idle ttl (%s) must not be shorter than the call ended ttl (%s)", c.CallIdleTTL, c.CallEndedTTL))
	}
	if c.PongWait <= c.PingInterval {
		errs = append(errs, fmt.Errorf("pong wait (%s) must be longer than the ping interval (%s)", c.PongWait, c.PingInterval))
	}
	return errors.Join(errs...)
}
