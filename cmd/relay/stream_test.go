package main_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The stream the relay creates is capped at 1 GiB by default and at
// --stream-max-bytes when given.
func TestStreamMaxBytesReachesTheStream(t *testing.T) {
	bin := MustBuild(t)
	ns := MustEmbeddedNATS(t)
	startRelay(t, bin, "--nats-url", ns.ClientURL(), "--demo", "off")
	startRelay(t, bin, "--nats-url", ns.ClientURL(), "--demo", "off", "--subject-prefix", "capped", "--stream-max-bytes", "5000000")

	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, want := range map[string]int64{"AGENTCALL": 1 << 30, "CAPPED": 5000000} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if got := s.CachedInfo().Config.MaxBytes; got != want {
			t.Errorf("stream %s: got max bytes %d, want %d", name, got, want)
		}
	}
}
