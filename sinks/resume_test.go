package sinks_test

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// Both sinks tell the relay when their connection is back.
var (
	_ relay.Resumer = (*sinks.JetStream)(nil)
	_ relay.Resumer = (*sinks.NATS)(nil)
)

// The server goes away and comes back on the same port: each sink calls
// its OnResume callbacks once the connection is back, and not before.
func TestOnResumeAfterReconnect(t *testing.T) {
	dir := t.TempDir()
	cfg := sinks.EmbeddedConfig{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, Logger: zerolog.Nop()}
	first := MustStartEmbedded(t, cfg)
	nc := MustConnect(t, first.ClientURL())
	js := MustJetStream(t, nc, sinks.StreamConfig{Name: "RESUME", Subjects: []string{"resume.>"}})
	core := sinks.NewNATS(nc, 0)
	resumed := map[string]chan struct{}{"jetstream": make(chan struct{}, 4), "nats": make(chan struct{}, 4)}
	js.OnResume(func() { resumed["jetstream"] <- struct{}{} })
	core.OnResume(func() { resumed["nats"] <- struct{}{} })

	if err := first.Close(); err != nil {
		t.Fatalf("stop the server: %v", err)
	}
	waitFor(t, 10*time.Second, "the connection to drop", func() bool { return !nc.IsConnected() })
	for name, ch := range resumed {
		if len(ch) != 0 {
			t.Fatalf("%s: resumed while the server is down", name)
		}
	}
	cfg.Port = portOf(t, first.ClientURL())
	MustStartEmbedded(t, cfg)
	for name, ch := range resumed {
		select {
		case <-ch:
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no resume within 15s of the server's return", name)
		}
	}
}
