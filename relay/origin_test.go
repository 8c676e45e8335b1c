package relay_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/callrelay/callrelay/relay"
)

// MustOriginPolicy builds a policy or fails the test.
func MustOriginPolicy(tb testing.TB, allowed []string, allowNoOrigin bool) *relay.OriginPolicy {
	tb.Helper()
	p, err := relay.NewOriginPolicy(allowed, allowNoOrigin)
	if err != nil {
		tb.Fatalf("NewOriginPolicy(%q): %v", allowed, err)
	}
	return p
}

func TestNewOriginPolicyAccepts(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
	}{
		{"nil list", nil},
		{"blank entries skipped", []string{"", "   "}},
		{"exact https", []string{"https://crm.example.com"}},
		{"exact http with port", []string{"http://localhost:8080"}},
		{"exact with explicit default port", []string{"https://crm.example.com:443"}},
		{"exact with trailing slash", []string{"https://crm.example.com/"}},
		{"upper case", []string{"HTTPS://CRM.Example.COM"}},
		{"surrounding spaces", []string{"  https://crm.example.com  "}},
		{"ipv6 literal", []string{"http://[::1]:8080"}},
		{"pattern", []string{"https://*.example.com"}},
		{"pattern with port", []string{"https://*.example.com:8443"}},
		{"pattern of three labels", []string{"https://*.eu.example.com"}},
		{"pattern with hyphens and digits", []string{"https://*.crm-01.example.com"}},
		{"several", []string{"https://crm.example.com", "https://*.example.org", "http://localhost:3000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := relay.NewOriginPolicy(tt.allowed, false); err != nil {
				t.Fatalf("NewOriginPolicy(%q): got error %v, want nil", tt.allowed, err)
			}
		})
	}
}

func TestNewOriginPolicyRefuses(t *testing.T) {
	tests := []struct {
		name  string
		entry string
	}{
		{"lone star", "*"},
		{"star host", "https://*"},
		{"pattern of one label", "https://*.com"},
		{"pattern of one label with trailing dot", "https://*.com."},
		{"pattern with empty label", "https://*..com"},
		{"pattern label starting with a hyphen", "https://*.-crm.example.com"},
		{"star in a middle label", "https://a.*.com"},
		{"star in the last label", "https://a.example.*"},
		{"two stars", "https://*.*.example.com"},
		{"star inside a label", "https://a*.example.com"},
		{"pattern without scheme", "*.example.com"},
		{"host without scheme", "crm.example.com"},
		{"scheme without host", "https://"},
		{"path", "https://crm.example.com/app"},
		{"query", "https://crm.example.com?x=1"},
		{"fragment", "https://crm.example.com#top"},
		{"userinfo", "https://user@crm.example.com"},
		{"userinfo with password", "https://user:pw@crm.example.com"},
		{"ws scheme", "ws://crm.example.com"},
		{"wss scheme", "wss://crm.example.com"},
		{"ftp scheme", "ftp://crm.example.com"},
		{"file scheme", "file:///etc/passwd"},
		{"null", "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, allowed := range [][]string{
				{tt.entry},
				{"https://good.example.com", tt.entry}, // one bad entry spoils the list
			} {
				p, err := relay.NewOriginPolicy(allowed, false)
				if err == nil {
					t.Fatalf("NewOriginPolicy(%q): got policy %+v, want an error", allowed, p)
				}
				if !strings.Contains(err.Error(), tt.entry) {
					t.Errorf("NewOriginPolicy(%q): got error %q, want it to name the entry %q", allowed, err, tt.entry)
				}
			}
		})
	}
}

func TestOriginPolicyMatch(t *testing.T) {
	p := MustOriginPolicy(t, []string{
		"https://crm.example.com",
		"https://explicit.example.com:443",
		"http://localhost:8080",
		"https://*.example.org",
		"https://*.eu.example.net:8443",
	}, false)
	tests := []struct {
		origin string
		want   bool
	}{
		// Exact origins.
		{"https://crm.example.com", true},
		{"https://crm.example.com:443", true},
		{"https://explicit.example.com", true},
		{"https://explicit.example.com:443", true},
		{"HTTPS://CRM.EXAMPLE.COM", true},
		{"https://Crm.Example.Com", true},
		{"http://crm.example.com", false},
		{"http://crm.example.com:443", false},
		{"https://crm.example.com:8443", false},
		{"https://a.crm.example.com", false},
		{"https://example.com", false},
		{"https://evilcrm.example.com", false},
		{"https://crm.example.com.evil.com", false},
		{"https://crm.example.co", false},
		{"http://localhost:8080", true},
		{"http://localhost", false},
		{"http://localhost:80", false},
		{"https://localhost:8080", false},

		// Patterns.
		{"https://a.example.org", true},
		{"https://a.b.example.org", true},
		{"https://A.Example.ORG", true},
		{"https://a.example.org:443", true},
		{"https://example.org", false},
		{"https://.example.org", false},
		{"https://evil-example.org", false},
		{"https://aexample.org", false},
		{"https://example.org.evil.com", false},
		{"https://a.example.org.evil.com", false},
		{"https://a.example.orgx", false},
		{"http://a.example.org", false},
		{"http://a.example.org:443", false},
		{"https://a.example.org:8443", false},
		{"https://x.eu.example.net:8443", true},
		{"https://x.eu.example.net", false},
		{"https://eu.example.net:8443", false},
		{"https://x.us.example.net:8443", false},

		// Not origins at all.
		{"", false},
		{"null", false},
		{"*", false},
		{"https://*.example.org", false},
		{"https://*", false},
		{"https://crm.example.com/path", false},
		{"https://crm.example.com?q=1", false},
		{"https://user@crm.example.com", false},
		{"wss://crm.example.com", false},
		{"crm.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			if got := p.Match(tt.origin); got != tt.want {
				t.Errorf("Match(%q): got %v, want %v", tt.origin, got, tt.want)
			}
		})
	}
}

func TestOriginPolicyMatchEmptyPolicy(t *testing.T) {
	p := MustOriginPolicy(t, nil, true)
	for _, origin := range []string{"https://crm.example.com", "http://localhost:8080", "null", ""} {
		if p.Match(origin) {
			t.Errorf("Match(%q) with an empty allowlist: got true, want false", origin)
		}
	}
}

func TestOriginPolicyAllowed(t *testing.T) {
	allowlist := []string{"https://crm.example.com", "https://*.example.org"}
	tests := []struct {
		name          string
		allowNoOrigin bool
		target        string // request URL; its host is r.Host
		origin        string // "" sends no Origin header
		want          bool
	}{
		{"no origin refused by default", false, "http://relay.example.com/v1/ws", "", false},
		{"no origin allowed when configured", true, "http://relay.example.com/v1/ws", "", true},
		{"same origin on loopback, not on the allowlist", false, "http://127.0.0.1:8080/v1/ws", "http://127.0.0.1:8080", true},
		{"same origin on localhost in other case", false, "http://localhost:8080/v1/ws", "http://LOCALHOST:8080", true},
		{"same origin on IPv6 loopback", false, "http://[::1]:8080/v1/ws", "http://[::1]:8080", true},
		{"same origin by name is not enough (DNS rebinding)", false, "http://relay.example.com/v1/ws", "https://relay.example.com", false},
		{"rebound attacker name on a loopback relay", false, "http://evil.test:8080/v1/ws", "http://evil.test:8080", false},
		{"same host other port", false, "http://127.0.0.1:8080/v1/ws", "http://127.0.0.1:9090", false},
		{"same host without the port", false, "http://127.0.0.1:8080/v1/ws", "http://127.0.0.1", false},
		{"exact allowlisted", false, "http://relay.example.com/v1/ws", "https://crm.example.com", true},
		{"pattern allowlisted", false, "http://relay.example.com/v1/ws", "https://a.example.org", true},
		{"allowlisted even when no origin is allowed", true, "http://relay.example.com/v1/ws", "https://crm.example.com", true},
		{"other origin", false, "http://relay.example.com/v1/ws", "https://evil.example.com", false},
		{"other origin when no origin is allowed", true, "http://relay.example.com/v1/ws", "https://evil.example.com", false},
		{"relay host as a subdomain of an attacker", false, "http://relay.example.com/v1/ws", "https://relay.example.com.evil.com", false},
		{"null origin", false, "http://relay.example.com/v1/ws", "null", false},
		{"null origin when no origin is allowed", true, "http://relay.example.com/v1/ws", "null", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := MustOriginPolicy(t, allowlist, tt.allowNoOrigin)
			r := httptest.NewRequest("GET", tt.target, nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := p.Allowed(r); got != tt.want {
				t.Errorf("Allowed(Host %q, Origin %q, allowNoOrigin %v): got %v, want %v", r.Host, tt.origin, tt.allowNoOrigin, got, tt.want)
			}
		})
	}
}
