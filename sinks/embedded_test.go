package sinks_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/sinks"
)

func TestEmbeddedSamePortTwice(t *testing.T) {
	port := portOf(t, MustEmbedded(t).ClientURL())
	second, err := sinks.NewEmbedded(sinks.EmbeddedConfig{Port: port, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("NewEmbedded: %v", err)
	}
	defer second.Close()
	start := time.Now()
	err = second.Start(startTimeout)
	if err == nil {
		t.Fatal("got nil error starting a second server on the same port, want one")
	}
	t.Logf("second start: %v", err)
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("got error %q, want it to say the address is in use", err)
	}
	if elapsed := time.Since(start); elapsed >= startTimeout {
		t.Errorf("got the error after %s, want it before the %s timeout", elapsed, startTimeout)
	}
}

func TestEmbeddedCloseTwice(t *testing.T) {
	e := MustEmbedded(t)
	for i := range 2 {
		if err := e.Close(); err != nil {
			t.Errorf("Close %d: got %v, want nil", i+1, err)
		}
	}
}

func TestEmbeddedClientURL(t *testing.T) {
	tests := []struct {
		cfg  sinks.EmbeddedConfig
		want string
	}{
		{sinks.EmbeddedConfig{}, "nats://127.0.0.1:4222"},
		{sinks.EmbeddedConfig{Host: "0.0.0.0", Port: 4300}, "nats://127.0.0.1:4300"},
		{sinks.EmbeddedConfig{Host: "::1", Port: 4301}, "nats://[::1]:4301"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			e, err := sinks.NewEmbedded(tt.cfg)
			if err != nil {
				t.Fatalf("NewEmbedded: %v", err)
			}
			if got := e.ClientURL(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewEmbeddedRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  sinks.EmbeddedConfig
		want string
	}{
		{"jetstream without store", sinks.EmbeddedConfig{JetStream: true}, "store directory"},
		{"port too large", sinks.EmbeddedConfig{Port: 70000}, "out of range"},
		{"port negative", sinks.EmbeddedConfig{Port: -2}, "out of range"},
		{"user without password", sinks.EmbeddedConfig{User: "relay"}, "needs a password"},
		{"password without user", sinks.EmbeddedConfig{Password: "secret"}, "a password a user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sinks.NewEmbedded(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestEmbeddedLogsThroughZerolog(t *testing.T) {
	var buf syncBuffer
	e := MustStartEmbedded(t, sinks.EmbeddedConfig{Port: -1, Logger: zerolog.New(&buf).Level(zerolog.InfoLevel)})
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := buf.String()
	for _, want := range []string{`"component":"nats"`, `"level":"info"`, "Server is ready"} {
		if !strings.Contains(got, want) {
			t.Errorf("got log %s, want it to contain %s", got, want)
		}
	}
	if strings.Contains(got, `"level":"debug"`) {
		t.Errorf("got debug lines with the logger at info level, want none")
	}
}

// Two servers over one JetStream store would corrupt it: the second is
// refused at once, with ErrStoreLocked, and the store can be used again as
// soon as the first has closed.
func TestEmbeddedStoreLock(t *testing.T) {
	dir := t.TempDir()
	cfg := sinks.EmbeddedConfig{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, Logger: zerolog.Nop()}
	first, err := sinks.NewEmbedded(cfg)
	if err != nil {
		t.Fatalf("NewEmbedded: %v", err)
	}
	if err := first.Start(startTimeout); err != nil {
		t.Fatalf("start first: %v", err)
	}
	defer first.Close()

	second, err := sinks.NewEmbedded(cfg)
	if err != nil {
		t.Fatalf("NewEmbedded: %v", err)
	}
	err = second.Start(startTimeout)
	if !errors.Is(err, sinks.ErrStoreLocked) {
		second.Close()
		t.Fatalf("second start over the same store: got %v, want ErrStoreLocked", err)
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "pid") {
		t.Errorf("got %q, want the directory and the holder's pid named", err)
	}

	if err := first.Close(); err != nil {
		t.Fatalf("close first: %v", err)
	}
	third := MustStartEmbedded(t, cfg)
	if third.ClientURL() == "" {
		t.Fatal("third server has no URL")
	}
}
