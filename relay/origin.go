package relay

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// OriginPolicy decides which browser origins may talk to the relay. It holds
// exact origins ("https://crm.example.com") and subdomain patterns
// ("https://*.example.com", which matches a.example.com and a.b.example.com but
// not example.com itself). Matching compares scheme, host and port exactly;
// there is no substring or suffix matching of whole strings. A request whose
// Origin equals the relay's own host is allowed without listing when that host
// is a loopback address or localhost (see isLoopback for why not otherwise).
type OriginPolicy struct {
	exact         map[string]bool
	patterns      []originPattern
	allowNoOrigin bool
}

type originPattern struct {
	scheme string
	suffix string // ".example.com"
	port   string // explicit port, or the scheme's default
}

// NewOriginPolicy parses the allowlist. Every entry must be an origin
// (scheme://host[:port], no path) or a pattern whose host starts with "*.".
// A lone "*" is refused: no setting trusts every origin.
func NewOriginPolicy(allowed []string, allowNoOrigin bool) (*OriginPolicy, error) {
	p := &OriginPolicy{exact: map[string]bool{}, allowNoOrigin: allowNoOrigin}
	var errs []error
	for _, raw := range allowed {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if err := p.add(raw); err != nil {
			errs = append(errs, &OriginError{Origin: raw, Err: err})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// OriginError is an entry of an origin list that NewOriginPolicy refused.
type OriginError struct {
	Origin string
	Err    error
}

func (e *OriginError) Error() string { return fmt.Sprintf("origin %q: %v", e.Origin, e.Err) }

func (e *OriginError) Unwrap() error { return e.Err }

// add parses one allowlist entry into p.
func (p *OriginPolicy) add(raw string) error {
	if raw == "*" {
		return errors.New("trusting every origin is not supported; list the origins")
	}
	scheme, host, port, err := splitOrigin(raw)
	if err != nil {
		return err
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) < 2 {
			return errors.New(`a pattern needs a domain of at least two labels after "*."`)
		}
		for _, l := range labels {
			if !validLabel(l) {
				return errors.New(`a pattern's domain must be labels of letters, digits and '-', separated by single dots`)
			}
		}
		p.patterns = append(p.patterns, originPattern{scheme: scheme, suffix: "." + rest, port: port})
		return nil
	}
	if strings.Contains(host, "*") {
		return errors.New(`"*" is only allowed as the first label ("https://*.example.com")`)
	}
	p.exact[scheme+"://"+net.JoinHostPort(host, port)] = true
	return nil
}

// validLabel reports whether l is a DNS label: 1 to 63 letters, digits and
// hyphens, not starting or ending with a hyphen.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Allowed reports whether the request's Origin header is acceptable.
func (p *OriginPolicy) Allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return p.allowNoOrigin
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) && IsLoopback(r.Host) {
		return true
	}
	return p.Match(origin)
}

// IsLoopback reports whether hostport names this machine by a loopback IP
// literal or "localhost". The same-origin rule is limited to such hosts: a
// page on an attacker's domain that re-binds its DNS name to the relay's
// address sends an Origin equal to the Host it asks for, so "Origin equals
// Host" alone proves nothing for a relay reached by name. A relay reached by
// name lists its own origin in the allowlist if it serves pages.
func IsLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Match reports whether origin is on the allowlist.
func (p *OriginPolicy) Match(origin string) bool {
	scheme, host, port, err := splitOrigin(origin)
	if err != nil || strings.Contains(host, "*") {
		return false
	}
	if p.exact[scheme+"://"+net.JoinHostPort(host, port)] {
		return true
	}
	for _, pat := range p.patterns {
		if pat.scheme == scheme && pat.port == port && len(host) > len(pat.suffix) && strings.HasSuffix(host, pat.suffix) {
			return true
		}
	}
	return false
}

// splitOrigin parses "scheme://host[:port]" into lower-case scheme and host
// and an explicit port (the scheme's default when absent).
func splitOrigin(s string) (scheme, host, port string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", "", fmt.Errorf("not a URL: %w", err)
	}
	scheme = strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", "", "", fmt.Errorf("scheme must be http or https")
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", "", fmt.Errorf("must be scheme://host[:port] with nothing else")
	}
	host = strings.ToLower(u.Hostname())
	port = u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme, host, port, nil
}
