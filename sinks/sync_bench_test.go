package sinks_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// BenchmarkEmbeddedSync measures what each --nats-sync policy costs: an
// embedded server with a JetStream file store (in b.TempDir(), so on
// $TMPDIR's disk), and the JetStream sink publishing event-sized messages,
// one at a time (the latency of one PubAck) and with 64 in flight (one
// busy WebSocket connection's window). Run it on the disk the relay will
// use, at a quiet moment:
//
//	TMPDIR=/path/on/that/disk go test ./sinks -run '^$' -bench EmbeddedSync -benchtime 5s
func BenchmarkEmbeddedSync(b *testing.B) {
	policies := []struct {
		name   string
		every  time.Duration
		always bool
	}{
		{"always", 0, true},
		{"1s", time.Second, false},
		{"2m", 2 * time.Minute, false},
	}
	body := make([]byte, 1024) // about one event with its call view's share
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	for _, p := range policies {
		for _, window := range []int{1, 64} {
			b.Run(fmt.Sprintf("sync=%s/window=%d", p.name, window), func(b *testing.B) {
				e := MustStartEmbedded(b, sinks.EmbeddedConfig{
					Port: -1, JetStream: true, StoreDir: b.TempDir(), Logger: zerolog.Nop(),
					SyncInterval: p.every, SyncAlways: p.always,
				})
				nc := MustConnect(b, e.ClientURL())
				sink := MustJetStream(b, nc, sinks.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}})
				run := &windowed{slots: make(chan struct{}, window)}
				b.SetBytes(int64(len(body)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run.slots <- struct{}{}
					run.wg.Add(1)
					sink.Publish(relay.Envelope{Subject: "bench.event", ID: fmt.Sprintf("m-%d", i), Data: body}, run, 0)
				}
				run.wg.Wait()
				b.StopTimer()
				if err := run.firstErr(); err != nil {
					b.Fatalf("publish: %v", err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// windowed keeps at most cap(slots) publishes in flight and records the
// first failure.
type windowed struct {
	slots chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
}

func (w *windowed) Published(_ int, _ bool, err error) {
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
	<-w.slots
	w.wg.Done()
}

func (w *windowed) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
