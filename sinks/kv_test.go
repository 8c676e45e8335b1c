package sinks_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/sinks"
)

var _ correlate.State = (*sinks.KV)(nil)

// MustKV opens the shared state on a fresh embedded server.
func MustKV(tb testing.TB, cfg sinks.KVConfig) (*sinks.KV, *nats.Conn) {
	tb.Helper()
	ns := MustEmbedded(tb)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	if cfg.Bucket == "" {
		cfg.Bucket = "test"
	}
	if cfg.EndedTTL == 0 {
		cfg.EndedTTL, cfg.IdleTTL, cfg.KeyTTL = time.Minute, time.Hour, time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := sinks.NewKV(ctx, nc, cfg)
	if err != nil {
		tb.Fatalf("NewKV: %v", err)
	}
	return kv, nc
}

func TestKVCallsAreCompareAndSet(t *testing.T) {
	kv, _ := MustKV(t, sinks.KVConfig{})
	ctx := context.Background()
	rec, rev, err := kv.Call(ctx, "acme.c.QQ")
	if rec != nil || rev != 0 || err != nil {
		t.Fatalf("absent: got %v %d %v, want nil 0 nil", rec, rev, err)
	}
	r := events.NewCallRecord("A")
	r.State, r.Updated = events.CallRinging, time.Now().UnixMilli()
	if err := kv.PutCall(ctx, "acme.c.QQ", r, 0); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := kv.PutCall(ctx, "acme.c.QQ", r, 0); !errors.Is(err, correlate.ErrConflict) {
		t.Fatalf("second create: got %v, want ErrConflict", err)
	}
	got, rev, err := kv.Call(ctx, "acme.c.QQ")
	if err != nil || got == nil || got.State != events.CallRinging || rev == 0 {
		t.Fatalf("read: got %+v %d %v", got, rev, err)
	}
	got.State = events.CallEstablished
	if err := kv.PutCall(ctx, "acme.c.QQ", got, rev); err != nil {
		t.Fatalf("update: %v", err)
	}
	if err := kv.PutCall(ctx, "acme.c.QQ", got, rev); !errors.Is(err, correlate.ErrConflict) {
		t.Fatalf("stale update: got %v, want ErrConflict", err)
	}
}

// An ended call reads as absent after the ended TTL, by its own timestamp,
// with its revision so that the write recreating it is a compare-and-set.
func TestKVEndedCallExpires(t *testing.T) {
	kv, _ := MustKV(t, sinks.KVConfig{})
	ctx := context.Background()
	r := events.NewCallRecord("A")
	r.State, r.Updated = events.CallEnded, time.Now().Add(-2*time.Minute).UnixMilli()
	if err := kv.PutCall(ctx, "acme.c.QQ", r, 0); err != nil {
		t.Fatal(err)
	}
	rec, rev, err := kv.Call(ctx, "acme.c.QQ")
	if rec != nil || rev == 0 || err != nil {
		t.Fatalf("got %v %d %v, want nil, a revision, nil", rec, rev, err)
	}
	if err := kv.PutCall(ctx, "acme.c.QQ", events.NewCallRecord("A"), rev); err != nil {
		t.Fatalf("recreate: %v", err)
	}
}

func TestKVClaimKey(t *testing.T) {
	kv, _ := MustKV(t, sinks.KVConfig{ClaimTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Released: the next claim gets it.
	c, dup, err := kv.ClaimKey(ctx, events.KeyDigest("acme.k.1"))
	if err != nil || dup {
		t.Fatalf("first claim: %v %v", dup, err)
	}
	if err := c.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	c, dup, err = kv.ClaimKey(ctx, events.KeyDigest("acme.k.1"))
	if err != nil || dup {
		t.Fatalf("claim after release: %v %v", dup, err)
	}

	// A second claimant waits for the first; once committed it is a duplicate.
	var wg sync.WaitGroup
	wg.Add(1)
	var waitedDup bool
	go func() {
		defer wg.Done()
		_, waitedDup, _ = kv.ClaimKey(ctx, events.KeyDigest("acme.k.1"))
	}()
	time.Sleep(100 * time.Millisecond)
	if err := c.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	wg.Wait()
	if !waitedDup {
		t.Error("the waiting claim: got not duplicate, want duplicate")
	}

	// A claim left pending (its replica died) is taken over after the timeout.
	if _, _, err := kv.ClaimKey(ctx, events.KeyDigest("acme.k.2")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c2, dup, err := kv.ClaimKey(ctx, events.KeyDigest("acme.k.2"))
	if err != nil || dup || c2 == nil {
		t.Fatalf("take over: %v %v", dup, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("taken over after %s, want about the claim timeout", d)
	}

	// A claim that cannot be decided within ctx fails.
	if _, _, err := kv.ClaimKey(ctx, events.KeyDigest("acme.k.3")); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, _, err := kv.ClaimKey(short, events.KeyDigest("acme.k.3")); err == nil {
		t.Error("claim of a pending key within 50ms: got nil error, want the deadline")
	}
}

// While the connection is down every call fails at once.
func TestKVFailsFastWhenDisconnected(t *testing.T) {
	kv, nc := MustKV(t, sinks.KVConfig{})
	nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, _, err := kv.Call(ctx, "acme.c.QQ"); !errors.Is(err, sinks.ErrNotConnected) {
		t.Errorf("got %v, want ErrNotConnected", err)
	}
	if _, _, err := kv.ClaimKey(ctx, events.KeyDigest("acme.k.1")); err == nil {
		t.Error("claim while disconnected: got nil error")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s, want an immediate failure", d)
	}
}
