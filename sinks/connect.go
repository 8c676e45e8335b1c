package sinks

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// defaultDialTimeout is the dial timeout used when ConnectOptions.Timeout is zero.
const defaultDialTimeout = 5 * time.Second

// Reconnect pacing: the client waits reconnectWait plus a random jitter
// between attempts so that many relays do not hammer a restarting server in
// step.
const (
	reconnectWait      = time.Second
	reconnectJitter    = 500 * time.Millisecond
	reconnectJitterTLS = 2 * time.Second
	pingInterval       = 20 * time.Second
)

// ConnectOptions tunes Connect.
type ConnectOptions struct {
	// Name is the client name shown by the server (e.g. in connz).
	Name string
	// Timeout is the dial timeout; zero means 5s.
	Timeout time.Duration
	// Logger receives connection state changes. Payloads are never logged.
	Logger zerolog.Logger
	// User and Password, when User is set, are presented to the server.
	// Credentials written in the URL (nats://user:pass@host) take
	// precedence, as in the NATS client. Neither is ever logged.
	User     string
	Password string
}

// Connect dials url (one URL or a comma-separated list) with options suited to
// a relay. The client reconnects forever, with a jittered wait between
// attempts, and has no reconnect buffer: while disconnected every publish
// fails at once instead of being held in memory and reported as sent.
// Disconnects, reconnects, closure and asynchronous errors are logged through
// opts.Logger with credentials removed from every URL.
//
// Connect fails if the first connection cannot be made; it does not retry
// it: a caller that must wait for NATS calls it again (see Permanent).
func Connect(url string, opts ConnectOptions) (*nats.Conn, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultDialTimeout
	}
	redacted := RedactURL(url)
	log := opts.Logger.With().Str("component", "nats-client").Logger()

	auth := func(*nats.Options) error { return nil }
	if opts.User != "" {
		auth = nats.UserInfo(opts.User, opts.Password)
	}
	nc, err := nats.Connect(url,
		auth,
		nats.Name(opts.Name),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitterTLS),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(pingInterval),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				// A deliberate Close: not worth a warning.
				log.Debug().Str("url", redacted).Msg("disconnected from nats")
				return
			}
			log.Warn().Str("url", redacted).Err(err).Msg("disconnected from nats")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("reconnected to nats")
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			ev := log.Info().Str("url", redacted)
			if err := nc.LastError(); err != nil {
				ev = ev.Err(err)
			}
			ev.Msg("nats connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := log.Error().Err(err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("nats asynchronous error")
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", redacted, err)
	}
	log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("connected to nats")
	return nc, nil
}

// Permanent reports whether err, from Connect, NewJetStream or NewKV, is one
// that trying again cannot fix: the configuration is wrong (credentials or
// TLS refused, a request the server calls bad, replicas a single server
// cannot have, a server without JetStream, an existing stream that does not
// cover the subjects). Any other error (the server is unreachable, slow,
// still electing a leader, short of resources for a moment) is worth
// another attempt later.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case errors.Is(err, ErrStreamMismatch),
		errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, nats.ErrSecureConnRequired), errors.Is(err, nats.ErrSecureConnWanted),
		errors.Is(err, nats.ErrBadSubject):
		return true
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		return true
	}
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch {
		case api.Code == 400,
			api.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabled,
			api.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabledForAccount,
			api.ErrorCode == jsErrCodeReplicasNotSupported:
			return true
		}
	}
	return false
}

// jsErrCodeReplicasNotSupported is the server's "replicas > 1 not
// supported in non-clustered mode".
const jsErrCodeReplicasNotSupported jetstream.ErrorCode = 10074

// RedactURL returns rawURL, a single NATS URL or a comma-separated list, with
// any user name, password or token removed, so that it can be logged or put
// in an error message.
func RedactURL(rawURL string) string {
	parts := strings.Split(rawURL, ",")
	for i, p := range parts {
		parts[i] = redactOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

// redactOne removes the userinfo from a single URL. A URL that does not parse
// keeps only what follows its last '@', which is where credentials end.
func redactOne(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return raw[i+1:]
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
