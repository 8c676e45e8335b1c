package sinks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/sinks"
)

// An embedded server with credentials refuses a client without them or
// with wrong ones, and serves JetStream to a client that presents them
// through ConnectOptions; the password never reaches the log.
func TestEmbeddedWithCredentials(t *testing.T) {
	const user, password = "relay", "s3cret-7f2a9c41d0e8b5"
	logs := &syncBuffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	e := MustStartEmbedded(t, sinks.EmbeddedConfig{
		Port: -1, JetStream: true, StoreDir: t.TempDir(), Logger: log, User: user, Password: password,
	})
	if strings.Contains(e.ClientURL(), password) || strings.Contains(e.ClientURL(), "@") {
		t.Errorf("ClientURL %q carries credentials", e.ClientURL())
	}
	for _, tc := range []struct {
		name string
		opts sinks.ConnectOptions
	}{
		{"none", sinks.ConnectOptions{Logger: log}},
		{"wrong password", sinks.ConnectOptions{Logger: log, User: user, Password: "wrong"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := sinks.Connect(e.ClientURL(), tc.opts)
			if err == nil {
				nc.Close()
				t.Fatal("got a connection, want it refused")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("got %v, want an authorization error", err)
			}
		})
	}
	nc, err := sinks.Connect(e.ClientURL(), sinks.ConnectOptions{Name: "auth-test", Logger: log, User: user, Password: password})
	if err != nil {
		t.Fatalf("connect with credentials: %v", err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := sinks.NewJetStream(ctx, nc, sinks.StreamConfig{Name: "AUTH", Subjects: []string{"auth.>"}}, 5*time.Second)
	if err != nil {
		t.Fatalf("JetStream with credentials: %v", err)
	}
	defer js.Close()
	if strings.Contains(logs.String(), password) {
		t.Errorf("the log shows the password:\n%s", logs.String())
	}
}
