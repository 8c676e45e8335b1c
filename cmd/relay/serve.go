package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/demo"
	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// serveCmd holds every setting of the relay. Defaults make `relay` with no
// flags a complete local installation: embedded NATS with JetStream on
// 127.0.0.1:4222, HTTP on 127.0.0.1:8080.
type serveCmd struct {
	Addr             string        `default:"127.0.0.1:8080" env:"RELAY_ADDR" help:"HTTP listen address (WebSocket, POST, health, metrics)."`
	MetricsAddr      string        `name:"metrics-addr" env:"RELAY_METRICS_ADDR" help:"Serve /metrics on this address alone instead of on --addr (e.g. an address only Prometheus reaches)."`
	NatsURL          string        `name:"nats-url" env:"RELAY_NATS_URL" help:"External NATS server(s), comma-separated. When set, no embedded server is started."`
	NatsListen       string        `default:"127.0.0.1:4222" env:"RELAY_NATS_LISTEN" help:"Listen address of the embedded NATS server (without --nats-url). Beyond loopback it needs RELAY_NATS_USER and RELAY_NATS_PASSWORD in the environment."`
	DataDir          string        `default:"./data" env:"RELAY_DATA_DIR" help:"Directory of the embedded server's JetStream store."`
	NatsSync         string        `name:"nats-sync" default:"1s" env:"RELAY_NATS_SYNC" help:"How the embedded server's JetStream store reaches the disk: always (sync every write before its ack) or an interval (e.g. 1s, 2m) at which writes are synced together. A power loss can lose what was acknowledged since the last sync (docs/operations.md)."`
	Sink             string        `default:"jetstream" enum:"jetstream,nats" env:"RELAY_SINK" help:"Where events go: jetstream (acked after the stream's PubAck) or nats (core NATS)."`
	SubjectPrefix    string        `default:"agentcall" env:"RELAY_SUBJECT_PREFIX" help:"First token(s) of every subject."`
	Tenant           string        `default:"default" env:"RELAY_TENANT" help:"Tenant token of every subject ([A-Za-z0-9_-]+)."`
	Stream           string        `env:"RELAY_STREAM" help:"JetStream stream name (default: the prefix in upper case, e.g. AGENTCALL)."`
	StreamMaxAge     time.Duration `default:"72h" env:"RELAY_STREAM_MAX_AGE" help:"Maximum age of messages in a stream the relay creates (0: unlimited)."`
	StreamReplicas   int           `default:"1" env:"RELAY_STREAM_REPLICAS" help:"Replicas of a stream the relay creates (use 3 on a clustered NATS)."`
	StreamMaxBytes   int64         `default:"1073741824" env:"RELAY_STREAM_MAX_BYTES" help:"Byte cap of a stream the relay creates; the oldest messages are dropped beyond it (0: unlimited). An existing stream is never changed."`
	AllowedOrigins   []string      `env:"RELAY_ALLOWED_ORIGINS" sep:"," help:"Browser origins allowed to connect: exact (https://crm.example.com) or subdomain patterns (https://*.example.com), comma-separated. The relay's own origin needs no listing when it is a loopback address."`
	AllowNoOrigin    bool          `env:"RELAY_ALLOW_NO_ORIGIN" help:"Accept requests without an Origin header (non-browser clients)."`
	MaxMessageBytes  int           `default:"65536" env:"RELAY_MAX_MESSAGE_BYTES" help:"Largest WebSocket frame and event data, in bytes."`
	MaxBatchBytes    int           `default:"1048576" env:"RELAY_MAX_BATCH_BYTES" help:"Largest POST /v1/events body, in bytes."`
	StrictMessageIDs bool          `name:"strict-message-ids" env:"RELAY_STRICT_MESSAGE_IDS" help:"Reject callBarEvents whose messageID is not one of the 14 documented ones."`
	DedupWindow      time.Duration `default:"10m" env:"RELAY_DEDUP_WINDOW" help:"How long an event id is remembered to acknowledge a resend as duplicate (also the stream's duplicate window)."`
	PublishTimeout   time.Duration `default:"5s" env:"RELAY_PUBLISH_TIMEOUT" help:"How long one publish may take before the event is nacked with retry."`
	WSWindow         int           `name:"ws-window" default:"64" env:"RELAY_WS_WINDOW" help:"Events of one WebSocket connection in flight at once (read, not yet answered); the relay reads no further frames beyond it."`
	State            string        `default:"restore" enum:"restore,memory,shared" env:"RELAY_STATE" help:"Where the correlation state lives: restore (one replica: in memory, read back from the JetStream stream at start, so that a restart keeps call views, talk details and queues; needs --sink jetstream), memory (one replica, no persistence: a restart forgets every call), or shared (JetStream key-value buckets, for several replicas)."`
	RestoreWindow    time.Duration `default:"0s" env:"RELAY_RESTORE_WINDOW" help:"With --state restore: how far back the stream is read at start (0: --call-idle-ttl)."`
	RestoreMsgs      int           `name:"restore-max-messages" default:"1000000" env:"RELAY_RESTORE_MAX_MESSAGES" help:"With --state restore: most messages read at start (the newest of the window)."`
	RestoreTimeout   time.Duration `default:"2m" env:"RELAY_RESTORE_TIMEOUT" help:"With --state restore: longest the read-back may take; beyond, the relay starts with what it read."`
	StateBucket      string        `default:"callrelay" env:"RELAY_STATE_BUCKET" help:"Name prefix of the shared state's buckets (<prefix>-calls, -agents, -keys)."`
	CallEndedTTL     time.Duration `name:"call-ended-ttl" default:"5m" env:"RELAY_CALL_ENDED_TTL" help:"How long a call is kept after it ended (EventCallDeleted)."`
	CallIdleTTL      time.Duration `name:"call-idle-ttl" default:"6h" env:"RELAY_CALL_IDLE_TTL" help:"How long a call or agent without any event is kept."`
	MaxCalls         int           `default:"100000" env:"RELAY_MAX_CALLS" help:"Most calls held in memory; the least recently changed is evicted beyond."`
	MaxAgents        int           `default:"50000" env:"RELAY_MAX_AGENTS" help:"Most agents held in memory; the least recently changed is evicted beyond."`
	MaxStateBytes    int           `default:"67108864" env:"RELAY_MAX_STATE_BYTES" help:"Most bytes the calls hold in memory (talk details above all, estimated); the least recently changed calls are evicted beyond. Keep it well under the process's memory limit."`
	TokenSecret      []string      `name:"token-secret" env:"RELAY_TOKEN_SECRET" sep:"," help:"Require client tokens: HS256 JWTs signed with this secret (at least 32 bytes; several, comma-separated, while rotating). Prefer the environment variable to the flag, which other users can see."`
	TokenAudience    string        `name:"token-audience" env:"RELAY_TOKEN_AUDIENCE" help:"With tokens, require this value in every token's aud claim."`
	TokenIssuer      string        `name:"token-issuer" env:"RELAY_TOKEN_ISSUER" help:"With tokens, require every token's iss claim to be this value."`
	TokenTenantClaim string        `name:"token-tenant-claim" default:"tenant" env:"RELAY_TOKEN_TENANT_CLAIM" help:"With tokens, the claim whose value chooses the tenant of the token's events (their subjects, correlation and dedup); a token without it uses --tenant. - reads no claim."`
	RequireTenant    bool          `name:"require-tenant-claim" env:"RELAY_REQUIRE_TENANT_CLAIM" help:"With tokens, refuse tokens without the tenant claim (one relay serving several contact centres)."`
	HelloTimeout     time.Duration `default:"10s" env:"RELAY_HELLO_TIMEOUT" help:"With tokens, how long a WebSocket client has to send its hello frame with a token."`
	ShutdownTimeout  time.Duration `default:"20s" env:"RELAY_SHUTDOWN_TIMEOUT" help:"How long SIGTERM waits for events in hand and connections to finish."`
	DrainGrace       time.Duration `default:"3s" env:"RELAY_DRAIN_GRACE" help:"On SIGTERM, how long at most each WebSocket is still read (and every event answered with a retryable draining nack) so that frames sent before the client heard are answered; less once the client is quiet for 0.5s. Keep it below --shutdown-timeout."`
	MaxTalkBytes     int           `default:"8192" env:"RELAY_MAX_TALK_BYTES" help:"Largest talk details (iframeParams params), in bytes; larger ones are refused as talk_too_large."`
	MaxClockSkew     time.Duration `default:"24h" env:"RELAY_MAX_CLOCK_SKEW" help:"How far a phone-bar event's creationTime may be from the relay's clock, either way; further ones are refused as invalid_creation_time."`
	RateLimit        float64       `default:"50" env:"RELAY_RATE_LIMIT" help:"Events per second one WebSocket connection may send on average; beyond it (and the burst) events are answered rate_limited with retry."`
	RateBurst        int           `default:"500" env:"RELAY_RATE_BURST" help:"Events one WebSocket connection may send at once, beyond the rate limit (500: a full outbox of the hook, resent after an outage, passes at once)."`
	MaxConnections   int           `default:"10000" env:"RELAY_MAX_CONNECTIONS" help:"Most WebSocket connections open at once; beyond it an upgrade is answered 503."`
	LogLevel         string        `default:"info" enum:"debug,info,warn,error" env:"RELAY_LOG_LEVEL" help:"Log level: debug, info, warn, error."`

	// Personal data (docs/privacy.md).
	Redaction     string `default:"none" env:"RELAY_REDACTION" help:"Personal-data policy applied before anything is published or stored: none (everything as received) or strict (phone numbers, emails and customer ids replaced by keyed pseudonyms; needs --pseudonym-key). See docs/privacy.md."`
	RedactionFile string `name:"redaction-file" env:"RELAY_REDACTION_FILE" help:"A policy file (YAML or JSON) with a rule per field; replaces --redaction (its 'base' key names the preset it starts from)."`
	PseudonymKey  string `name:"pseudonym-key" env:"RELAY_PSEUDONYM_KEY" help:"Key of the policy's pseudonyms (HMAC-SHA256, at least 32 bytes); the same key gives the same pseudonyms on every replica and restart. Prefer the environment variable to the flag, which other users can see."`

	// Sobot signs of talk details (docs/protocol.md#sobot-signs).
	SobotSign       string        `name:"sobot-sign" default:"off" enum:"off,mark,require" env:"RELAY_SOBOT_SIGN" help:"Check the Sobot sign of talk details: off, mark (publish them saying whether the sign held) or require (refuse forged and stale ones). Needs --sobot-sysnum."`
	SobotSysNum     string        `name:"sobot-sysnum" env:"RELAY_SOBOT_SYSNUM" help:"The contact centre's Sobot sysNum, for --sobot-sign."`
	SobotKey        string        `name:"sobot-key" env:"RELAY_SOBOT_KEY" help:"The Sobot security key, when it is on in the Sobot console: signs then cover timestamp, uphone and uemail. A secret: give it through the environment variable, not the flag, which other users can see."`
	SobotSignWindow time.Duration `name:"sobot-sign-window" default:"10m" env:"RELAY_SOBOT_SIGN_WINDOW" help:"How far the talk details' timestamp may be from the relay's clock, either way, for the sign to count."`

	// The browser hook and the demo (browserhook/, demo/).
	WorkbenchOrigins  []string `name:"workbench-origins" env:"RELAY_WORKBENCH_ORIGINS" sep:"," help:"Origins of the Sobot workbench iframe whose postMessages the hook forwards: exact (https://v6.example.com) or subdomain patterns (https://*.sobot.com), comma-separated. Written into GET /hook.js. With none, the hook forwards nothing (except the demo's simulator in demo mode); a lone * is refused."`
	Demo              string   `default:"auto" enum:"auto,on,off" env:"RELAY_DEMO" help:"The demo page at /demo with a simulated workbench: auto (on with the embedded NATS server and a loopback --addr, else off), on, off. Its live panel shows everything published."`
	DemoWorkbenchAddr string   `default:"127.0.0.1:8081" env:"RELAY_DEMO_WORKBENCH_ADDR" help:"Listen address of the demo's simulated workbench, a second origin (port 0: a free port). Only in demo mode; its origin is then added to the hook's workbench origins."`

	// NATS credentials come from the environment only (natsauth.go).
	natsAuth natsCredentials `kong:"-"`
}

// Run starts everything, prints the banner, and blocks until SIGINT or
// SIGTERM, then drains and returns nil.
func (s serveCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s.natsAuth = natsCredentialsFromEnv()
	return s.serve(ctx, os.Stdout, os.Stderr)
}

// serve runs the relay until ctx ends. The banner goes to out, logs to logOut.
func (s serveCmd) serve(ctx context.Context, out, logOut io.Writer) error {
	level, _ := zerolog.ParseLevel(s.LogLevel)
	log := zerolog.New(logOut).Level(level).With().Timestamp().Str("service", "callrelay").Logger()

	cfg := relay.Config{
		SubjectPrefix:      s.SubjectPrefix,
		Tenant:             s.Tenant,
		AllowedOrigins:     s.AllowedOrigins,
		AllowNoOrigin:      s.AllowNoOrigin,
		MaxMessageBytes:    s.MaxMessageBytes,
		MaxBatchBytes:      s.MaxBatchBytes,
		StrictMessageIDs:   s.StrictMessageIDs,
		DedupWindow:        s.DedupWindow,
		PublishTimeout:     s.PublishTimeout,
		Window:             s.WSWindow,
		DrainGrace:         s.DrainGrace,
		TokenSecrets:       s.TokenSecret,
		TokenAudience:      s.TokenAudience,
		TokenIssuer:        s.TokenIssuer,
		TokenTenantClaim:   s.TokenTenantClaim,
		RequireTenantClaim: s.RequireTenant,
		HelloTimeout:       s.HelloTimeout,
		CallEndedTTL:       s.CallEndedTTL,
		CallIdleTTL:        s.CallIdleTTL,
		MaxCalls:           s.MaxCalls,
		MaxAgents:          s.MaxAgents,
		MaxStateBytes:      s.MaxStateBytes,
		SignMode:           s.SobotSign,
		SobotSysNum:        s.SobotSysNum,
		SobotKey:           s.SobotKey,
		SignWindow:         s.SobotSignWindow,
		MaxTalkBytes:       s.MaxTalkBytes,
		MaxClockSkew:       s.MaxClockSkew,
		RateLimit:          s.RateLimit,
		RateBurst:          s.RateBurst,
		MaxConnections:     s.MaxConnections,
		Version:            version,
	}
	if err := s.validate(cfg); err != nil {
		return err
	}
	policy, err := s.redaction()
	if err != nil {
		return err
	}
	cfg.Redaction = policy
	// A port in use is named with its flag before anything starts.
	if err := checkFree("--addr", s.Addr); err != nil {
		return err
	}
	if s.MetricsAddr != "" {
		if err := checkFree("--metrics-addr", s.MetricsAddr); err != nil {
			return err
		}
	}
	if s.NatsURL == "" {
		if err := checkFree("--nats-listen", s.NatsListen); err != nil {
			return err
		}
	}
	logRedaction(log, policy)
	if s.SobotSign != relay.SignOff {
		log.Info().Str("mode", s.SobotSign).Bool("keyed", s.SobotKey != "").Dur("window", s.SobotSignWindow).Msg("sobot signs of talk details checked")
		if s.SobotKey == "" {
			log.Warn().Msg("--sobot-sign without RELAY_SOBOT_KEY checks md5(sysNum + email), which anyone who knows the sysNum can compute: turn the security key on in Sobot and set RELAY_SOBOT_KEY")
		}
	}
	if len(s.TokenSecret) == 0 && !loopbackAddr(s.Addr) {
		log.Warn().Str("addr", s.Addr).Msg("--token-secret is not set and --addr listens beyond loopback: the relay cannot tell agents apart, " +
			"so any client that reaches it with an allowed Origin (a header any non-browser client can write) may send events for any call id; " +
			"set RELAY_TOKEN_SECRET and have your back end mint a token per agent (docs/security.md)")
	}
	if len(s.WorkbenchOrigins) == 0 && len(s.AllowedOrigins) == 0 {
		log.Warn().Msg("neither --workbench-origins nor --allowed-origins is set: the hook forwards no workbench's messages " +
			"(in demo mode, only the simulator's) and only pages served by the relay itself on a loopback address may connect; " +
			"set --workbench-origins to your Sobot workbench's origin and --allowed-origins to your page's")
	}
	subjects, _ := events.NewSubjects(s.SubjectPrefix, s.Tenant)
	demoOn := s.demoOn()

	// NATS: embedded unless an external URL is given.
	natsURL := s.NatsURL
	var embedded *sinks.Embedded
	if natsURL == "" {
		host, port, _ := splitHostPort(s.NatsListen)
		if port == 0 {
			port = -1 // a free port, as with --addr 127.0.0.1:0
		}
		storeDir := filepath.Join(s.DataDir, "nats")
		// The embedded server's start-up notices are noise next to the
		// banner; its warnings and errors are kept.
		natsLog := log
		if level > zerolog.DebugLevel {
			natsLog = log.Level(max(level, zerolog.WarnLevel))
		}
		syncEvery, syncAlways, _ := parseNatsSync(s.NatsSync)
		embedded, err = sinks.NewEmbedded(sinks.EmbeddedConfig{
			Host: host, Port: port, StoreDir: storeDir, JetStream: true, Logger: natsLog,
			SyncInterval: syncEvery, SyncAlways: syncAlways,
			User: s.natsAuth.User, Password: s.natsAuth.Password,
		})
		if err != nil {
			return err
		}
		if err := embedded.Start(15 * time.Second); err != nil {
			if errors.Is(err, sinks.ErrStoreLocked) {
				return fmt.Errorf("--data-dir %s is in use by another running relay: give each relay its own --data-dir, or stop the other one (%w)", s.DataDir, err)
			}
			return err
		}
		defer embedded.Close()
		natsURL = embedded.ClientURL()
	}
	// The HTTP address listens from here on: while NATS, the stream or
	// the buckets cannot be reached, /readyz says why (503) and every
	// attempt is logged; only a wrong configuration ends the wait.
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return listenError("--addr", s.Addr, err)
	}
	metricsBase := "http://" + displayAddr(ln.Addr())
	if s.MetricsAddr != "" {
		mln, err := net.Listen("tcp", s.MetricsAddr)
		if err != nil {
			_ = ln.Close()
			return listenError("--metrics-addr", s.MetricsAddr, err)
		}
		metricsBase = "http://" + displayAddr(mln.Addr())
		ms := serveMetrics(mln, reg, log)
		defer ms.Close()
	}
	shared := newHandoffListener(ln)
	startupMetrics := prometheus.Gatherer(reg)
	if s.MetricsAddr != "" {
		startupMetrics = nil // served on --metrics-addr only
	}
	st := startStartup(shared.view(false), startupMetrics, log)
	handedOff := false
	defer func() {
		if !handedOff {
			st.handOff()
			shared.close()
		}
	}()
	stopped := func() error {
		log.Info().Msg("signal received before nats could take events: stopped")
		return nil
	}

	natsFlag := "--nats-url"
	if embedded != nil {
		natsFlag = "--nats-listen"
	}
	var nc *nats.Conn
	err = st.wait(ctx, "nats at "+sinks.RedactURL(natsURL), func(err error) error {
		return fmt.Errorf("%s %s: %w", natsFlag, sinks.RedactURL(natsURL), err)
	}, func(context.Context) error {
		c, err := sinks.Connect(natsURL, sinks.ConnectOptions{Name: "callrelay", Logger: log, User: s.natsAuth.User, Password: s.natsAuth.Password})
		nc = c
		return err
	})
	if errors.Is(err, errStopped) {
		return stopped()
	}
	if err != nil {
		return natsAuthHint(err)
	}
	defer nc.Close()

	var sink relay.Sink
	var streamName string
	sinkDesc := "core NATS"
	switch s.Sink {
	case "nats":
		sink = sinks.NewNATS(nc, s.PublishTimeout)
	default:
		streamName = s.Stream
		if streamName == "" {
			streamName = defaultStreamName(s.SubjectPrefix)
		}
		var js *sinks.JetStream
		err := st.wait(ctx, "stream "+streamName, func(err error) error {
			return streamFlagError(s, streamName, err)
		}, func(actx context.Context) error {
			var err error
			js, err = sinks.NewJetStream(actx, nc, sinks.StreamConfig{
				Name:       streamName,
				Subjects:   []string{subjects.Stream()},
				MaxAge:     s.StreamMaxAge,
				Replicas:   s.StreamReplicas,
				Duplicates: s.DedupWindow,
				MaxBytes:   s.StreamMaxBytes,
			}, s.PublishTimeout)
			return err
		})
		if errors.Is(err, errStopped) {
			return stopped()
		}
		if err != nil {
			return err
		}
		defer js.Close()
		sink = js
		sinkDesc = "JetStream stream " + streamName
	}

	// In demo mode the page's outage switch sits in front of the sink.
	var outage *demo.Outage
	if demoOn {
		outage = demo.NewOutage(sink)
		sink = outage
	}

	var relayOpts []relay.Option
	stateDesc := "memory"
	if s.State == "shared" {
		var kv *sinks.KV
		err := st.wait(ctx, "state buckets "+s.StateBucket+"-*", func(err error) error {
			return fmt.Errorf("--state shared (--state-bucket %s, --stream-replicas %d): %w", s.StateBucket, s.StreamReplicas, err)
		}, func(actx context.Context) error {
			var err error
			kv, err = sinks.NewKV(actx, nc, sinks.KVConfig{
				Bucket: s.StateBucket, EndedTTL: s.CallEndedTTL, IdleTTL: s.CallIdleTTL,
				KeyTTL: s.DedupWindow, ClaimTimeout: 2 * s.PublishTimeout, Replicas: s.StreamReplicas,
			})
			return err
		})
		if errors.Is(err, errStopped) {
			return stopped()
		}
		if err != nil {
			return err
		}
		defer kv.Close()
		relayOpts = append(relayOpts, relay.WithState(kv))
		stateDesc = "shared, key-value buckets " + s.StateBucket + "-{calls,agents,keys}"
	}
	if s.MetricsAddr != "" {
		relayOpts = append(relayOpts, relay.WithoutMetrics())
	}
	srv, err := relay.New(cfg, sink, log, reg, relayOpts...)
	if err != nil {
		return err
	}
	if s.State == "restore" {
		stats, err := s.restoreState(ctx, nc, streamName, subjects.Stream(), srv, log)
		if err != nil {
			return err
		}
		stateDesc = fmt.Sprintf("memory, restored from the stream (calls: %d)", stats.Calls)
	} else if s.State == "memory" {
		stateDesc = "memory only: a restart forgets every call (--state memory)"
	}
	hook, err := s.mountHookAndDemo(srv, nc, subjects.All(), outage, log)
	if err != nil {
		return err
	}
	defer hook.Close()
	st.handOff()
	handedOff = true
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(shared.view(true)) }()

	httpBase := "http://" + displayAddr(ln.Addr())
	wsBase := "ws://" + displayAddr(ln.Addr())
	natsNote := "external"
	if embedded != nil {
		natsNote = "embedded, store " + filepath.Join(s.DataDir, "nats")
	}
	fmt.Fprintf(out, "callrelay %s\n", version)
	fmt.Fprintf(out, "  websocket  %s/v1/ws\n", wsBase)
	fmt.Fprintf(out, "  post       %s/v1/events\n", httpBase)
	fmt.Fprintf(out, "  nats       %s (%s; %s)\n", sinks.RedactURL(natsURL), natsNote, sinkDesc)
	fmt.Fprintf(out, "  subjects   %s   follow them: %s\n", subjects.All(), tailHint(natsURL, s.natsAuth.set()))
	fmt.Fprintf(out, "  metrics    %s/metrics\n", metricsBase)
	fmt.Fprintf(out, "  state      %s\n", stateDesc)
	fmt.Fprintf(out, "  hook       %s/hook.js\n", httpBase)
	if demoOn {
		fmt.Fprintf(out, "  demo       %s/demo   (simulated workbench on %s)\n", httpBase, hook.workbenchOrigin)
	}
	log.Info().Str("addr", ln.Addr().String()).Str("nats", sinks.RedactURL(natsURL)).Str("sink", s.Sink).Msg("relay started")

	select {
	case <-ctx.Done():
		log.Info().Msg("signal received: draining")
	case err := <-serveErr:
		if err != nil {
			return fmt.Errorf("serve http: %w", err)
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	hook.Close() // ends the demo's live feeds, which would hold Shutdown up
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn().Err(err).Msg("shutdown did not finish cleanly")
	}
	if err := <-serveErr; err != nil {
		log.Warn().Err(err).Msg("serve http")
	}
	if err := flushNATS(shutdownCtx, nc); err != nil {
		log.Warn().Err(err).Msg("flush nats")
	}
	log.Info().Msg("relay stopped")
	return nil
}

// serveMetrics serves /metrics alone on ln (--metrics-addr) until the
// returned server is closed.
func serveMetrics(ln net.Listener, reg prometheus.Gatherer, log zerolog.Logger) *http.Server {
	ms := &http.Server{
		Handler:           relay.MetricsHandler(reg, log),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	go func() {
		if err := ms.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("serve metrics")
		}
	}()
	return ms
}

// validate checks the settings main owns and the relay's own Config, and
// reports every problem at once.
func (s serveCmd) validate(cfg relay.Config) error {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.MetricsAddr != "" {
		if _, port, err := splitHostPort(s.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-addr %q: %w", s.MetricsAddr, err))
		} else if s.MetricsAddr == s.Addr && port != 0 {
			errs = append(errs, fmt.Errorf("--metrics-addr %q: must differ from --addr (leave it empty to serve /metrics on --addr)", s.MetricsAddr))
		}
	}
	errs = append(errs, s.natsAuth.validate()...)
	if s.NatsURL == "" {
		if _, _, err := splitHostPort(s.NatsListen); err != nil {
			errs = append(errs, fmt.Errorf("--nats-listen %q: %w", s.NatsListen, err))
		} else if !s.natsAuth.set() && !embeddedLoopback(s.NatsListen) {
			errs = append(errs, fmt.Errorf("--nats-listen %q: the embedded NATS server would let anyone who reaches this address read and write every subject; "+
				"set %s and %s in the environment (the relay and relay tail connect with them), or listen on a loopback address", s.NatsListen, envNATSUser, envNATSPassword))
		}
		if s.DataDir == "" {
			errs = append(errs, errors.New(`--data-dir "": must not be empty with the embedded NATS server`))
		}
		if _, _, err := parseNatsSync(s.NatsSync); err != nil {
			errs = append(errs, fmt.Errorf("--nats-sync %q: %w", s.NatsSync, err))
		}
	}
	if s.StreamReplicas < 1 || s.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("--stream-replicas %d: must be 1 to 5", s.StreamReplicas))
	}
	if s.Stream != "" && strings.ContainsAny(s.Stream, ". *>\t") {
		errs = append(errs, fmt.Errorf("--stream %q: a stream name cannot contain '.', '*', '>' or spaces", s.Stream))
	}
	if _, err := relay.NewOriginPolicy(s.WorkbenchOrigins, false); err != nil {
		errs = append(errs, relay.OriginErrors("workbench origin", err)...)
	}
	if s.demoOn() {
		if _, _, err := splitHostPort(s.DemoWorkbenchAddr); err != nil {
			errs = append(errs, fmt.Errorf("--demo-workbench-addr %q: %w", s.DemoWorkbenchAddr, err))
		}
	}
	if s.State == "shared" && s.Sink == "nats" {
		errs = append(errs, errors.New("--state shared needs JetStream: use it with --sink jetstream"))
	}
	if s.State == "restore" && s.Sink == "nats" {
		errs = append(errs, errors.New("--state restore (the default) reads the call state back from the JetStream stream, which --sink nats has not: add --state memory"))
	}
	if s.RestoreWindow < 0 || s.RestoreTimeout <= 0 || s.RestoreMsgs < 1 {
		errs = append(errs, errors.New("--restore-window must not be negative, --restore-timeout and --restore-max-messages must be positive"))
	}
	if s.State == "shared" && !validBucket(s.StateBucket) {
		errs = append(errs, fmt.Errorf("--state-bucket %q: use letters, digits, '-' and '_' only", s.StateBucket))
	}
	if s.StreamMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("--stream-max-bytes %d: must not be negative (0: unlimited)", s.StreamMaxBytes))
	}
	if s.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-timeout %s: must be positive", s.ShutdownTimeout))
	}
	if s.DrainGrace <= 0 || s.DrainGrace >= s.ShutdownTimeout {
		errs = append(errs, fmt.Errorf("--drain-grace %s: must be positive and shorter than --shutdown-timeout (%s)", s.DrainGrace, s.ShutdownTimeout))
	}
	return newConfigError(errs)
}

// tailHint is the command that follows the relay's subjects, with the NATS
// URL when it is not tail's default, and a reminder of the credentials'
// variables (never their values) when NATS needs them.
func tailHint(natsURL string, auth bool) string {
	hint := "go run ./cmd/relay tail"
	if natsURL != defaultTailURL {
		hint += " --nats-url " + sinks.RedactURL(natsURL)
	}
	if auth {
		hint += " (with " + envNATSUser + " and " + envNATSPassword + " set)"
	}
	return hint
}

// streamFlagError names the flag to change for a permanent error of the
// stream look-up.
func streamFlagError(s serveCmd, stream string, err error) error {
	var api *jetstream.APIError
	switch {
	case errors.Is(err, sinks.ErrStreamMismatch):
		return fmt.Errorf("--stream %s / --subject-prefix %s: %w", stream, s.SubjectPrefix, err)
	case errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabled || api.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabledForAccount):
		return fmt.Errorf("--sink jetstream: the NATS server at --nats-url has no JetStream for this user (enable it, or use --sink nats): %w", err)
	case errors.As(err, &api) && api.ErrorCode == 10074:
		return fmt.Errorf("--stream-replicas %d: %w", s.StreamReplicas, err)
	default:
		return fmt.Errorf("--stream %s (--stream-replicas %d, --stream-max-age %s): %w", stream, s.StreamReplicas, s.StreamMaxAge, err)
	}
}

// parseNatsSync reads --nats-sync: "always", or a positive duration.
func parseNatsSync(v string) (every time.Duration, always bool, err error) {
	if strings.EqualFold(strings.TrimSpace(v), "always") {
		return 0, true, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return 0, false, errors.New(`want "always" or a positive duration such as 1s or 2m`)
	}
	return d, false, nil
}

// validBucket reports whether name can prefix a key-value bucket name.
func validBucket(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// flushNATS makes sure everything published reached the server, then closes.
func flushNATS(ctx context.Context, nc *nats.Conn) error {
	defer nc.Close()
	if !nc.IsConnected() {
		return nil
	}
	return nc.FlushWithContext(ctx)
}

// defaultStreamName derives a stream name from the subject prefix:
// "agentcall" -> "AGENTCALL", "acme.calls" -> "ACME_CALLS".
func defaultStreamName(prefix string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(prefix))
}

// splitHostPort parses "host:port" with a numeric port.
func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", portStr)
	}
	return host, port, nil
}

// displayAddr is an address a person can paste into a browser: an
// unspecified host is shown as 127.0.0.1.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
