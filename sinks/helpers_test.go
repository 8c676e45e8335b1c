package sinks_test

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// Both sinks satisfy relay's contract.
var (
	_ relay.Sink = (*sinks.JetStream)(nil)
	_ relay.Sink = (*sinks.NATS)(nil)
)

// startTimeout is how long tests give an embedded server to come up.
const startTimeout = 10 * time.Second

// MustEmbedded starts an embedded server with JetStream on a random port,
// storing into a fresh temporary directory, and closes it at the end of the
// test.
func MustEmbedded(tb testing.TB) *sinks.Embedded {
	tb.Helper()
	return MustStartEmbedded(tb, sinks.EmbeddedConfig{
		Port:      -1,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		Logger:    zerolog.Nop(),
	})
}

// MustStartEmbedded starts an embedded server configured by cfg and closes it
// at the end of the test.
func MustStartEmbedded(tb testing.TB, cfg sinks.EmbeddedConfig) *sinks.Embedded {
	tb.Helper()
	e, err := sinks.NewEmbedded(cfg)
	if err != nil {
		tb.Fatalf("NewEmbedded: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("close embedded server: %v", err)
		}
	})
	if err := e.Start(startTimeout); err != nil {
		tb.Fatalf("start embedded server: %v", err)
	}
	return e
}

// MustConnect connects to url through sinks.Connect and closes the
// connection at the end of the test.
func MustConnect(tb testing.TB, url string) *nats.Conn {
	tb.Helper()
	nc, err := sinks.Connect(url, sinks.ConnectOptions{Name: tb.Name(), Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatalf("Connect(%s): %v", url, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// MustJetStream returns a JetStream sink on nc for the stream cfg describes.
func MustJetStream(tb testing.TB, nc *nats.Conn, cfg sinks.StreamConfig) *sinks.JetStream {
	tb.Helper()
	s, err := sinks.NewJetStream(testContext(tb), nc, cfg, 0)
	if err != nil {
		tb.Fatalf("NewJetStream(%s): %v", cfg.Name, err)
	}
	return s
}

// MustStream returns a handle on an existing stream, for reading it back.
func MustStream(tb testing.TB, nc *nats.Conn, name string) jetstream.Stream {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream.New: %v", err)
	}
	st, err := js.Stream(testContext(tb), name)
	if err != nil {
		tb.Fatalf("look up stream %s: %v", name, err)
	}
	return st
}

// testContext returns a context that ends with the test or after 10s.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// waitFor polls cond every 20ms until it returns true or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not true after %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// portOf returns the port of a nats://host:port URL.
func portOf(tb testing.TB, rawURL string) int {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("parse %s: %v", rawURL, err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		tb.Fatalf("port of %s: %v", rawURL, err)
	}
	return port
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// syncPublish publishes env on s and waits for its outcome.
func syncPublish(ctx context.Context, s relay.Sink, env relay.Envelope) (bool, error) {
	w := &syncWaiter{done: make(chan syncResult, 1)}
	s.Publish(env, w, 0)
	select {
	case r := <-w.done:
		return r.dup, r.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

type syncResult struct {
	dup bool
	err error
}

type syncWaiter struct{ done chan syncResult }

func (w *syncWaiter) Published(_ int, dup bool, err error) { w.done <- syncResult{dup, err} }
