package sinks

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// Embedded-server defaults.
const (
	embeddedServerName  = "callrelay-embedded"
	defaultEmbeddedHost = "127.0.0.1"
	defaultEmbeddedPort = 4222
	// shutdownTimeout bounds Close.
	shutdownTimeout = 10 * time.Second
	// readyPoll is how often Start looks for a listener error while it
	// waits for the server to accept connections.
	readyPoll = 50 * time.Millisecond
)

// EmbeddedConfig configures the NATS server the relay runs in-process.
type EmbeddedConfig struct {
	// Host is the address to listen on; empty means "127.0.0.1".
	Host string
	// Port is the client port; 0 means 4222 and -1 a random free port.
	Port int
	// StoreDir is the JetStream store directory, required with JetStream.
	StoreDir string
	// JetStream enables JetStream.
	JetStream bool
	// Sync is how JetStream's file store reaches the disk: every write
	// synced before its PubAck (SyncAlways), or all writes synced together
	// every SyncInterval; zero means the server's default (2m). A process
	// crash loses nothing either way (written data is in the kernel's page
	// cache); a power loss or kernel crash can lose what was written since
	// the last sync.
	SyncInterval time.Duration
	SyncAlways   bool
	// Logger receives the server's log, with component=nats.
	Logger zerolog.Logger
	// User and Password, when set (both or neither), are the credentials
	// every client must present; without them the server lets anyone who
	// can reach Host connect.
	User     string
	Password string
}

// Embedded is a NATS server running inside the relay's process. Create it
// with NewEmbedded, run it with Start and stop it with Close. An Embedded
// runs once: after Close, create a new one to serve again.
type Embedded struct {
	cfg    EmbeddedConfig
	srv    *server.Server
	log    *serverLogger
	port   int // the configured port; the actual one once started
	lock   *storeLock
	closer sync.Once
	err    error
}

// NewEmbedded validates cfg and prepares a server without starting it. The
// server has no HTTP monitoring port, installs no signal handlers and never
// logs message payloads (tracing is off).
func NewEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Host == "" {
		cfg.Host = defaultEmbeddedHost
	}
	switch {
	case cfg.Port == 0:
		cfg.Port = defaultEmbeddedPort
	case cfg.Port < server.RANDOM_PORT || cfg.Port > 65535:
		return nil, fmt.Errorf("embedded nats: port %d out of range (1-65535, 0 for 4222, -1 for random)", cfg.Port)
	}
	if cfg.JetStream && cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: jetstream requires a store directory")
	}
	if cfg.SyncInterval < 0 {
		return nil, fmt.Errorf("embedded nats: sync interval %s is negative", cfg.SyncInterval)
	}
	if (cfg.User == "") != (cfg.Password == "") {
		return nil, errors.New("embedded nats: a user needs a password and a password a user")
	}
	opts := &server.Options{
		ServerName: embeddedServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		NoSigs:     true,
		HTTPPort:   0,
		JetStream:  cfg.JetStream,
		StoreDir:   cfg.StoreDir,
		// SyncInterval 0 leaves the server's default.
		SyncInterval: cfg.SyncInterval,
		SyncAlways:   cfg.SyncAlways,
		Username:     cfg.User,
		Password:     cfg.Password,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: configure server: %w", err)
	}
	log := newServerLogger(cfg.Logger)
	// Debug follows the logger's level; trace stays off because it logs
	// protocol lines, payloads included.
	srv.SetLoggerV2(log, cfg.Logger.GetLevel() <= zerolog.DebugLevel, false, false)
	return &Embedded{cfg: cfg, srv: srv, log: log, port: cfg.Port}, nil
}

// Start starts the server and waits up to timeout until it accepts client
// connections. It fails early, with the server's reason, if the server
// reports a fatal error such as a port already in use; the server is then
// shut down. With JetStream, Start first takes an exclusive lock on the
// store directory, held until Close, and fails at once with an error
// wrapping ErrStoreLocked when another server (in any process) holds it.
func (e *Embedded) Start(timeout time.Duration) error {
	addr := net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port))
	if e.cfg.JetStream {
		lock, err := lockStore(e.cfg.StoreDir)
		if err != nil {
			return fmt.Errorf("start embedded nats: %w", err)
		}
		e.lock = lock
	}
	e.srv.Start()
	deadline := time.Now().Add(timeout)
	for {
		if msg := e.log.fatal(); msg != "" {
			e.shutdown()
			return fmt.Errorf("start embedded nats on %s: %s", addr, msg)
		}
		if e.srv.ReadyForConnections(readyPoll) {
			if a, ok := e.srv.Addr().(*net.TCPAddr); ok {
				e.port = a.Port
			}
			return nil
		}
		if !time.Now().Before(deadline) {
			e.shutdown()
			return fmt.Errorf("start embedded nats on %s: not ready for connections after %s", addr, timeout)
		}
	}
}

// ClientURL returns the URL clients connect to, e.g. "nats://127.0.0.1:4222".
// It never carries the credentials: clients are given them apart
// (ConnectOptions.User and Password).
// With a random port it is known only once Start has succeeded; it stays
// valid after Close, so that a new server can take the same port. An
// unspecified listen address (0.0.0.0, ::) is reported as 127.0.0.1.
func (e *Embedded) ClientURL() string {
	host := e.cfg.Host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = defaultEmbeddedHost
	}
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(e.port))
}

// Close shuts the server down and waits, at most 10s, until it has stopped.
// It is safe to call more than once; later calls return the first result.
func (e *Embedded) Close() error {
	e.closer.Do(func() { e.err = e.shutdown() })
	return e.err
}

// shutdown stops the server, bounded by shutdownTimeout, and releases the
// store's lock once it has stopped.
func (e *Embedded) shutdown() error {
	done := make(chan struct{})
	go func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
		e.lock.unlock()
		e.lock = nil
		return nil
	case <-time.After(shutdownTimeout):
		return fmt.Errorf("shut down embedded nats: not stopped after %s", shutdownTimeout)
	}
}
