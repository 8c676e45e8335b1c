package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://user:secret@nats.example.com:4222", "nats://nats.example.com:4222"},
		{"nats://s3cr3tt0ken@nats.example.com", "nats://nats.example.com"},
		{"tls://a:b@one:4222, nats://c:d@two:4222", "tls://one:4222,nats://two:4222"},
		{"nats://us%er:pa%ss@host:4222", "host:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := sinks.RedactURL(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConnectFailsWithRedactedURL(t *testing.T) {
	port := freePort(t)
	url := fmt.Sprintf("nats://alice:hunter2@127.0.0.1:%d", port)
	nc, err := sinks.Connect(url, sinks.ConnectOptions{Timeout: time.Second, Logger: zerolog.Nop()})
	if err == nil {
		nc.Close()
		t.Fatal("got nil error connecting to a closed port, want an error")
	}
	want := fmt.Sprintf("connect to nats nats://127.0.0.1:%d: ", port)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got error %q, want prefix %q", err, want)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "alice") {
		t.Errorf("got error %q, want no credentials in it", err)
	}
	if !errors.Is(err, nats.ErrNoServers) {
		t.Errorf("got error %v, want it to wrap nats.ErrNoServers", err)
	}
}

func TestConnectLogsStateChanges(t *testing.T) {
	e := MustEmbedded(t)
	var buf syncBuffer
	nc, err := sinks.Connect(e.ClientURL(), sinks.ConnectOptions{Name: "logs", Logger: zerolog.New(&buf)})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer nc.Close()
	if err := e.Close(); err != nil {
		t.Fatalf("close server: %v", err)
	}
	waitFor(t, 5*time.Second, "disconnect logged", func() bool {
		return strings.Contains(buf.String(), "disconnected from nats")
	})
	if got := buf.String(); !strings.Contains(got, `"component":"nats-client"`) {
		t.Errorf("got log %s, want component nats-client", got)
	}
}

// TestPublishWhileDisconnectedFailsFast checks the NATS client itself: with
// no reconnect buffer, a publish while reconnecting is refused at once.
func TestPublishWhileDisconnectedFailsFast(t *testing.T) {
	e := MustEmbedded(t)
	nc := MustConnect(t, e.ClientURL())
	if err := e.Close(); err != nil {
		t.Fatalf("close server: %v", err)
	}
	waitFor(t, 5*time.Second, "client sees the disconnect", func() bool { return !nc.IsConnected() })

	if got, want := nc.Status(), nats.RECONNECTING; got != want {
		t.Errorf("got status %s, want %s", got, want)
	}
	err := nc.Publish("agentcall.test", []byte("{}"))
	if !errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Errorf("got raw publish error %v, want %v", err, nats.ErrReconnectBufExceeded)
	}

	sink := sinks.NewNATS(nc, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = syncPublish(ctx, sink, relay.Envelope{Subject: "agentcall.test", ID: "x", Data: []byte("{}")})
	if !errors.Is(err, sinks.ErrNotConnected) {
		t.Errorf("got sink error %v, want it to wrap ErrNotConnected", err)
	}
}

// Permanent tells a wrong configuration (stop and say so) from an outage
// (wait and try again).
func TestPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"no servers", fmt.Errorf("connect to nats x: %w", nats.ErrNoServers), false},
		{"timeout", fmt.Errorf("look up stream S: %w", context.DeadlineExceeded), false},
		{"no responders", nats.ErrNoResponders, false},
		{"authorization", fmt.Errorf("connect to nats x: %w", nats.ErrAuthorization), true},
		{"tls wanted", nats.ErrSecureConnWanted, true},
		{"stream mismatch", fmt.Errorf("wrapped: %w", sinks.ErrStreamMismatch), true},
		{"bad request", &jetstream.APIError{Code: 400, ErrorCode: 10025, Description: "invalid JSON"}, true},
		{"replicas", &jetstream.APIError{Code: 500, ErrorCode: 10074, Description: "replicas > 1 not supported in non-clustered mode"}, true},
		{"no jetstream", jetstream.ErrJetStreamNotEnabled, true},
		{"insufficient resources", &jetstream.APIError{Code: 503, ErrorCode: 10023, Description: "insufficient resources"}, false},
		{"temporarily unavailable", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sinks.Permanent(tt.err); got != tt.want {
				t.Errorf("Permanent(%v): got %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
