package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/browserhook"
	"github.com/callrelay/callrelay/demo"
	"github.com/callrelay/callrelay/relay"
)

// demoOn resolves --demo: auto means on with the embedded NATS server and
// an HTTP address on loopback. The demo's live panel shows everything
// published, personal data included, to whoever opens /demo, so it never
// turns itself on where other machines can reach it.
func (s serveCmd) demoOn() bool {
	switch s.Demo {
	case "on":
		return true
	case "off":
		return false
	default:
		return s.NatsURL == "" && loopbackAddr(s.Addr)
	}
}

// loopbackAddr reports whether the listen address addr ("host:port") is
// reachable only from this machine: localhost or a loopback IP. An empty
// host or 0.0.0.0 listens on every interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hookAndDemo is what mountHookAndDemo started: the demo and the simulated
// workbench's own HTTP server, when the demo is on.
type hookAndDemo struct {
	demo            *demo.Demo
	workbench       *http.Server
	workbenchOrigin string
	once            sync.Once
}

// mountHookAndDemo adds GET /hook.js to srv, with the workbench origins
// written into it, and in demo mode starts the simulated workbench on its
// own listener (a second origin, added to the hook's origins) and mounts the
// demo pages with a live feed of subject, the switch of outage, and a
// redirect from / to /demo.
func (s serveCmd) mountHookAndDemo(srv *relay.Server, nc *nats.Conn, subject string, outage *demo.Outage, log zerolog.Logger) (*hookAndDemo, error) {
	h := &hookAndDemo{}
	var origins []string
	for _, o := range s.WorkbenchOrigins {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	if s.demoOn() {
		ln, err := net.Listen("tcp", s.DemoWorkbenchAddr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s for the demo's workbench (--demo-workbench-addr; --demo off turns the demo off): %w", s.DemoWorkbenchAddr, err)
		}
		h.workbenchOrigin = "http://" + displayAddr(ln.Addr())
		origins = append(origins, h.workbenchOrigin)
		h.workbench = &http.Server{
			Handler:           demo.Workbench(),
			ReadHeaderTimeout: 5 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          nil,
		}
		go func() {
			if err := h.workbench.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn().Err(err).Msg("demo workbench stopped")
			}
		}()
		var mint func() string
		if tokens, _ := relay.NewTokens(s.TokenSecret, relay.TokenAudience(s.TokenAudience), relay.TokenIssuer(s.TokenIssuer)); tokens != nil {
			// The demo page plays the integrator's back end: it hands its
			// hook a token, long enough for a demo session.
			mint = func() string { return tokens.Mint("demo-agent", 12*time.Hour, time.Now()) }
		}
		h.demo, err = demo.New(nc, demo.Config{
			Token:           mint,
			Subject:         subject,
			WorkbenchURL:    h.workbenchOrigin + "/",
			WorkbenchOrigin: h.workbenchOrigin,
			Outage:          outage,
			Logger:          log.With().Str("component", "demo").Logger(),
		})
		if err != nil {
			h.Close()
			return nil, err
		}
		srv.Handle("/demo", h.demo)
		srv.Handle("/demo/", h.demo)
		srv.Handle("GET /{$}", demo.Redirect(log.With().Str("component", "demo").Logger()))
	}
	hook, err := browserhook.Handler(browserhook.Config{WorkbenchOrigins: origins})
	if err != nil {
		h.Close()
		return nil, err
	}
	srv.Handle("/hook.js", hook)
	return h, nil
}

// Close ends the demo's feeds and stops the simulated workbench, within 5s.
// It is safe to call twice.
func (h *hookAndDemo) Close() {
	h.once.Do(func() {
		if h.demo != nil {
			_ = h.demo.Close()
		}
		if h.workbench != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = h.workbench.Shutdown(ctx)
		}
	})
}
