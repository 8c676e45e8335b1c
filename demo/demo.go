package demo

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Config configures the demo.
type Config struct {
	// Subject is what the live panel follows, e.g. "agentcall.default.>".
	Subject string
	// WorkbenchURL is the simulated workbench's page, e.g.
	// "http://127.0.0.1:8081/"; the parent page embeds it.
	WorkbenchURL string
	// WorkbenchOrigin is its origin, e.g. "http://127.0.0.1:8081".
	WorkbenchOrigin string
	// Backlog is how many recent messages a newly opened panel is shown
	// (default 100); MaxClients bounds the open panels (default 16).
	Backlog    int
	MaxClients int
	// Logger receives the demo's few log lines (never message bodies).
	Logger zerolog.Logger
	// Token, when the relay requires tokens, mints the token the demo page
	// hands its hook (data-token), as an integrator's back end would.
	Token func() string
	// Outage, when set, is the sink wrapper behind the page's outage switch
	// (GET and POST /demo/outage); without it the switch is not offered.
	Outage *Outage
}

// Demo serves the parent page (/demo), its assets (/demo/demo.js,
// /demo/demo.css, /demo/favicon.svg), the live feed (/demo/feed) and the
// outage switch (/demo/outage). Create it with New, mount it on "/demo" and
// "/demo/", and Close it before the HTTP server shuts down (Close ends the
// feeds' long-lived responses).
//
// It answers only requests whose Host is a loopback address or localhost
// and whose Origin, when present, is that same host: its feed shows
// personal data, and its switch changes what the relay does.
type Demo struct {
	cfg  Config
	page *template.Template
	js   []byte
	css  []byte
	icon []byte
	feed *Feed
}

// New subscribes to cfg.Subject on nc and prepares the pages.
func New(nc *nats.Conn, cfg Config) (*Demo, error) {
	if nc == nil {
		return nil, errors.New("demo: a NATS connection is required")
	}
	if cfg.Subject == "" || cfg.WorkbenchURL == "" {
		return nil, errors.New("demo: Subject and WorkbenchURL are required")
	}
	page, err := template.New("demo").Parse(string(mustRead("demo.html")))
	if err != nil {
		return nil, fmt.Errorf("demo: parse page: %w", err)
	}
	feed, err := NewFeed(nc, cfg.Subject, cfg.Backlog, cfg.MaxClients, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &Demo{cfg: cfg, page: page, js: mustRead("demo.js"), css: mustRead("demo.css"), icon: mustRead("favicon.svg"), feed: feed}, nil
}

// ServeHTTP routes the demo's paths.
func (d *Demo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !local(r) {
		refuse(w, r, d.cfg.Logger)
		return
	}
	switch r.URL.Path {
	case "/demo", "/demo/":
		d.servePage(w, r)
	case "/demo/demo.js":
		serveStatic(w, r, d.js, "text/javascript; charset=utf-8")
	case "/demo/demo.css":
		serveStatic(w, r, d.css, "text/css; charset=utf-8")
	case "/demo/favicon.svg":
		serveStatic(w, r, d.icon, "image/svg+xml")
	case "/demo/feed":
		d.feed.ServeHTTP(w, r)
	case "/demo/outage":
		d.serveOutage(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Redirect answers the relay's / in demo mode: a redirect to /demo for a
// request that local accepts, the demo's refusal for any other.
func Redirect(log zerolog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !local(r) {
			refuse(w, r, log)
			return
		}
		http.Redirect(w, r, "/demo", http.StatusFound)
	})
}

// refuse answers a request from beyond this machine with 403 and nothing
// of the demo's.
func refuse(w http.ResponseWriter, r *http.Request, log zerolog.Logger) {
	log.Warn().Str("path", r.URL.Path).Msg("demo: refused a request that is not from this machine")
	http.Error(w, "the demo answers only on a loopback address (open it as http://127.0.0.1:<port>/demo)", http.StatusForbidden)
}

// servePage renders the parent page. The hook's addresses are built from the
// Host the browser asked for, so the page works on any port.
func (d *Demo) servePage(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	token := ""
	if d.cfg.Token != nil {
		token = d.cfg.Token()
	}
	err := d.page.Execute(&buf, map[string]any{
		"Token":           token,
		"HookSrc":         "http://" + r.Host + "/hook.js",
		"RelayWS":         "ws://" + r.Host + "/v1/ws",
		"WorkbenchURL":    d.cfg.WorkbenchURL,
		"WorkbenchOrigin": d.cfg.WorkbenchOrigin,
		"Subject":         d.cfg.Subject,
		"CallSubject":     strings.TrimSuffix(d.cfg.Subject, ">") + "call",
		"Outage":          d.cfg.Outage != nil,
	})
	if err != nil {
		d.cfg.Logger.Error().Err(err).Msg("demo: render page")
		http.Error(w, "the demo page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
	serveStatic(w, r, buf.Bytes(), "text/html; charset=utf-8")
}

// Close ends the subscription and every open feed. It is safe to call twice.
func (d *Demo) Close() error { return d.feed.Close() }
