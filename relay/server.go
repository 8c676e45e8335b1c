package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
)

// Server is the relay's HTTP and WebSocket service.
type Server struct {
	cfg     Config
	log     zerolog.Logger
	sink    Sink
	m       *metrics
	p       *pipeline
	origins *OriginPolicy
	tokens  *Tokens // nil when tokens are not required
	mux     *http.ServeMux
	http    *http.Server
	// noMetrics: /metrics is served elsewhere (MetricsHandler).
	noMetrics bool

	upgrader websocket.Upgrader

	// ctx is cancelled when Shutdown gives up waiting; it bounds publishes
	// still running then.
	ctx    context.Context
	cancel context.CancelFunc

	draining atomic.Bool
	open     atomic.Int64 // WebSocket connections admitted and not yet ended
	mu       sync.Mutex
	conns    map[*conn]struct{}
	wg       sync.WaitGroup
}

// Option changes how New builds a Server.
type Option func(*options)

type options struct {
	state     correlate.State
	noMetrics bool
}

// WithState keeps the correlation state in st (for several replicas: the
// shared JetStream key-value state of package sinks) instead of a
// correlate.Memory bounded by the Config. A *correlate.Memory is used as is.
func WithState(st correlate.State) Option {
	return func(o *options) { o.state = st }
}

// WithoutMetrics leaves /metrics off the relay's handler, for a relay whose
// metrics are served on a listener of their own (MetricsHandler), at an
// address that Prometheus reaches and browsers do not.
func WithoutMetrics() Option {
	return func(o *options) { o.noMetrics = true }
}

// New builds a Server. reg receives the relay's metrics; when reg is also a
// prometheus.Gatherer (a *prometheus.Registry is), /metrics serves it.
func New(cfg Config, sink Sink, log zerolog.Logger, reg prometheus.Registerer, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("relay config: %w", err)
	}
	if sink == nil {
		return nil, errors.New("relay: a sink is required")
	}
	cfg = cfg.withDefaults()
	subjects, _ := events.NewSubjects(cfg.SubjectPrefix, cfg.Tenant)
	origins, _ := NewOriginPolicy(cfg.AllowedOrigins, cfg.AllowNoOrigin)
	tokens, _ := NewTokens(cfg.TokenSecrets, TokenAudience(cfg.TokenAudience), TokenIssuer(cfg.TokenIssuer), cfg.tenantOption())
	m, err := newMetrics(reg, cfg.Version, func() bool { return sinkReady(sink, time.Second) })
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	if err := registerRedaction(reg, cfg.Redaction); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		sink:    sink,
		m:       m,
		origins: origins,
		tokens:  tokens,
		conns:   map[*conn]struct{}{},
		p: &pipeline{
			subjects:  subjects,
			opts:      events.Options{MaxBytes: cfg.MaxMessageBytes, StrictMessageIDs: cfg.StrictMessageIDs},
			sink:      sink,
			m:         m,
			timeout:   cfg.PublishTimeout,
			tenants:   tenantCache{def: newTenantNames(subjects)},
			redact:    cfg.Redaction,
			redactVer: cfg.Redaction.Version(),
			maxTalk:   cfg.MaxTalkBytes,
			maxSkew:   cfg.MaxClockSkew,
		},
	}
	s.p.gens, _ = sink.(Generations)
	if s.p.sign, err = newSignCheck(cfg, reg); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.p.ctx = s.ctx
	dedup := correlate.NewDedup(cfg.DedupWindow, cfg.DedupMax)
	dedup.SetEvicted(m.dedupEvictions.Inc)
	s.p.dedup = dedup
	corr, err := correlate.New(correlate.Config{
		Tenant: cfg.Tenant,
		Memory: correlate.MemoryConfig{
			EndedTTL: cfg.CallEndedTTL, IdleTTL: cfg.CallIdleTTL,
			MaxCalls: cfg.MaxCalls, MaxAgents: cfg.MaxAgents, MaxCallBytes: cfg.MaxStateBytes,
			KeyWindow: cfg.DedupWindow, MaxKeys: cfg.DedupMax,
		},
	}, o.state, reg)
	if err != nil {
		return nil, err
	}
	s.p.corr = corr
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// A read buffer of 2 KiB holds a typical event frame (about 1 KiB);
		// larger frames are read through it in pieces. The relay writes
		// its frames itself, so the write pool is never used, but it keeps
		// gorilla from allocating a write buffer per connection.
		ReadBufferSize:    2048,
		WriteBufferPool:   unusedPool{},
		EnableCompression: false,
		// The origin has been checked before Upgrade, with a JSON answer.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			writeJSON(w, status, errorBody{Error: errorDetail{Code: "bad_handshake", Message: reason.Error()}})
		},
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/v1/ws", s.serveWS)
	s.mux.HandleFunc("/v1/events", s.serveEvents)
	s.mux.HandleFunc("/healthz", s.serveHealth)
	s.mux.HandleFunc("/readyz", s.serveReady)
	s.noMetrics = o.noMetrics
	if g, ok := reg.(prometheus.Gatherer); ok && !o.noMetrics {
		s.mux.Handle("/metrics", metricsHandler(g, log))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			s.serveIndex(w, r)
			return
		}
		writeError(w, CodeNotFound, "no such path: see docs/protocol.md")
	})
	s.http = &http.Server{
		Handler:           nosniff(s.mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          httpErrorLog(log),
	}
	if r, ok := sink.(Resumer); ok {
		r.OnResume(s.resume)
	}
	return s, nil
}

// Handle adds a route (the hook script, the demo) to the relay's mux.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the relay's HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Serve accepts connections on l until Shutdown. It returns nil after a
// Shutdown and the listener's error otherwise.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and events, lets every event in hand
// finish (its ack is written), closes every WebSocket with 1001 going away and
// waits for them, all within ctx. Each WebSocket is first sent a draining
// frame and read for up to Config.DrainGrace more (less once its client is
// quiet), so that the frames its client wrote before it heard are answered
// too: events that arrive meanwhile get a retryable "draining" nack.
// Shutdown is safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.p.draining.Store(true)
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()

	// Each connection drains on its own: its notice may wait on a slow
	// client, and its grace runs in parallel with the others'.
	s.mu.Lock()
	for c := range s.conns {
		go c.drain()
	}
	s.mu.Unlock()

	connsDone := make(chan struct{})
	go func() { s.wg.Wait(); close(connsDone) }()
	var err error
	select {
	case <-connsDone:
	case <-ctx.Done():
		err = fmt.Errorf("websocket connections still open: %w", ctx.Err())
	}
	if herr := <-httpDone; herr != nil && err == nil {
		err = fmt.Errorf("http shutdown: %w", herr)
	}
	s.cancel()
	return err
}

// resume tells every connected WebSocket client that the sink is back
// (a resume frame), so that the events answered with retry:true are sent
// again at once. Each client is written to on a goroutine of its own: a slow
// one delays no other.
func (s *Server) resume() {
	if s.draining.Load() {
		return
	}
	s.mu.Lock()
	n := len(s.conns)
	for c := range s.conns {
		go c.sendResume()
	}
	s.mu.Unlock()
	s.m.resumes.Inc()
	s.log.Info().Int("clients", n).Msg("sink available again: clients told to resend")
}

// unusedPool is a websocket.BufferPool for writes that never happen.
type unusedPool struct{}

func (unusedPool) Get() any  { return nil }
func (unusedPool) Put(x any) {}

// track registers a connection; false when the server is draining.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// newConnID returns a short random connection id for logs.
func newConnID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// remoteHost is the client's address without the port.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// jsonErrorText describes a JSON decoding error without quoting the input.
func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be a %s, not %s", typ.Field, typ.Type, typ.Value)
		}
		return fmt.Sprintf("expected a JSON object, not %s", typ.Value)
	default:
		return "invalid JSON"
	}
}
