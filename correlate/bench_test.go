package relay_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/relay"
)

// callTemplate parses the five messages of callSteps once; a benchmark
// copies them with another call id.
func callTemplate(b *testing.B) []*events.Message {
	b.Helper()
	steps := callSteps("BENCH")
	var out []*events.Message
	for _, name := range stepOrder {
		data, _ := json.Marshal(steps[name])
		m, err := events.Parse(data, events.Options{})
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// benchCorrelate runs one correlation step per iteration: the five
// messages of one call after another, a new call every five iterations.
func benchCorrelate(b *testing.B, st relay.State) {
	tc, err := relay.NewTestCorrelator(relay.Config{}, st, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	tmpl := callTemplate(b)
	ctx := context.Background()
	seen := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := *tmpl[i%len(tmpl)]
		m.CallID = "BENCH-" + strconv.Itoa(i/len(tmpl))
		if dup, err := tc.Step(ctx, &m, "id", seen); err != nil || dup != "" {
			b.Fatalf("step %d: %q %v", i, dup, err)
		}
	}
}

// BenchmarkCorrelateMemory is the correlation step of one event (content
// key, read, apply, enrich, compare-and-set, gauges) in memory mode.
func BenchmarkCorrelateMemory(b *testing.B) {
	benchCorrelate(b, nil)
}

// BenchmarkCorrelateShared is the same step against the JetStream KV state
// of an in-process NATS server (memory storage): four to five KV round trips.
func BenchmarkCorrelateShared(b *testing.B) {
	ns := MustNATS(b)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	benchCorrelate(b, MustKV(b, nc))
}

// BenchmarkMemoryStateMillionCalls streams b.N distinct calls (one
// EventRinging each; run it with -benchtime=1000000x) through the memory
// state capped at its default of 100,000 calls, and reports the heap held
// per tracked call: memory stays bounded by the cap.
func BenchmarkMemoryStateMillionCalls(b *testing.B) {
	tc, err := relay.NewTestCorrelator(relay.Config{}, nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	ringing := callTemplate(b)[0]
	ctx := context.Background()
	seen := time.Now()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := *ringing
		m.CallID = "M-" + strconv.Itoa(i)
		if _, err := tc.Step(ctx, &m, "id", seen); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	calls, _ := tc.Mirror().Len()
	if calls > relay.DefaultMaxCalls {
		b.Fatalf("tracking %d calls, over the cap of %d", calls, relay.DefaultMaxCalls)
	}
	if calls > 0 {
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(calls), "bytes/call")
	}
	b.ReportMetric(float64(calls), "calls-held")
	b.ReportMetric(float64(after.HeapAlloc)/(1<<20), "heap-MiB")
	runtime.KeepAlive(tc)
}
