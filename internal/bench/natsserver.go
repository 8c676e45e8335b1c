package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// natsShutdownWait bounds the server's shutdown.
const natsShutdownWait = 10 * time.Second

// NATSServerConfig is the nats-server `relay bench-nats` runs.
type NATSServerConfig struct {
	// StoreDir is the JetStream file store.
	StoreDir string
	// Port and WSPort are the client and WebSocket ports on 127.0.0.1.
	Port, WSPort int
}

// ServeNATS runs a NATS server with JetStream on file storage in
// cfg.StoreDir, clients on 127.0.0.1:cfg.Port and WebSocket clients (no
// TLS) on 127.0.0.1:cfg.WSPort, until ctx ends. It writes one line to out
// once the server accepts connections: "ready nats://... ws://...". The
// server installs no signal handlers and logs only warnings and errors, to
// logOut.
func ServeNATS(ctx context.Context, cfg NATSServerConfig, out, logOut io.Writer) error {
	if cfg.StoreDir == "" {
		return errors.New("bench nats-server: --store is required")
	}
	opts := &server.Options{
		ServerName: "callrelay-bench",
		Host:       "127.0.0.1",
		Port:       cfg.Port,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		Websocket: server.WebsocketOpts{
			Host:  "127.0.0.1",
			Port:  cfg.WSPort,
			NoTLS: true,
		},
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("configure bench nats-server: %w", err)
	}
	srv.SetLoggerV2(&quietLogger{w: logOut}, false, false, false)
	srv.Start()
	defer func() {
		srv.Shutdown()
		done := make(chan struct{})
		go func() { srv.WaitForShutdown(); close(done) }()
		select {
		case <-done:
		case <-time.After(natsShutdownWait):
		}
	}()
	if !srv.ReadyForConnections(readyTimeout) {
		return fmt.Errorf("bench nats-server on 127.0.0.1:%d: not ready after %s", cfg.Port, readyTimeout)
	}
	port, wsPort := cfg.Port, cfg.WSPort
	if a, ok := srv.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	if _, err := fmt.Fprintf(out, "ready nats://127.0.0.1:%d ws://127.0.0.1:%d\n", port, wsPort); err != nil {
		return fmt.Errorf("announce bench nats-server: %w", err)
	}
	<-ctx.Done()
	return nil
}

// quietLogger is the server's logger: notices, debug and trace lines are
// dropped, warnings and errors written to w, one line each.
type quietLogger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *quietLogger) line(level, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "nats-server %s: %s\n", level, fmt.Sprintf(format, v...))
}

// Noticef drops a notice.
func (l *quietLogger) Noticef(string, ...any) {}

// Warnf writes a warning.
func (l *quietLogger) Warnf(format string, v ...any) { l.line("warning", format, v...) }

// Fatalf writes a fatal error; the server then fails to become ready.
func (l *quietLogger) Fatalf(format string, v ...any) { l.line("fatal", format, v...) }

// Errorf writes an error.
func (l *quietLogger) Errorf(format string, v ...any) { l.line("error", format, v...) }

// Debugf drops a debug line.
func (l *quietLogger) Debugf(string, ...any) {}

// Tracef drops a trace line.
func (l *quietLogger) Tracef(string, ...any) {}
