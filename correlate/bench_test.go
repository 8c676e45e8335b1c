package correlate_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/sinks"
)

// callData returns the event.data of one step of an inbound call.
func callData(step, callID string, t0 int64) []byte {
	switch step {
	case "talk":
		return fmt.Appendf(nil, `{"source":"agentCall","type":"iframeParams","params":{"partnerId":"P-778899","uid":"u-123","uemail":"li.lei@example.com","email":"agent01@example.com","sign":"0123456789abcdef0123456789abcdef","timestamp":%d,"uphone":"158****2496","encryptUphone":"ENC-QUJDREVGMTIzNDU2","gatewayNumber":"02088886666","callType":2,"callId":%q,"province":"Guangdong","city":"Shenzhen","startTime":%d,"orderNo":"SO-2025-0042"}}`, t0+1000, callID, t0)
	case "established":
		return fmt.Appendf(nil, `{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventEstablished","callID":%q,"creationTime":%d,"companyId":"cmp-1","partyID":"p-1","callType":"Inbound","agentID":"1001","province":"Guangdong","city":"Shenzhen","firstDistributedQueueUUID":"q1","firstDistributedQueueId":"1","firstDistributedQueueName":"Sales","lastDistributedQueueUUID":"q2","lastDistributedQueueId":"2","lastDistributedQueueName":"VIP"}}`, callID, t0+5000)
	case "released":
		return fmt.Appendf(nil, `{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventReleased","callID":%q,"creationTime":%d,"companyId":"cmp-1","partyID":"p-1"}}`, callID, t0+65000)
	case "deleted":
		return fmt.Appendf(nil, `{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventCallDeleted","callID":%q,"creationTime":%d,"companyId":"cmp-1"}}`, callID, t0+66000)
	default:
		return fmt.Appendf(nil, `{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventRinging","callID":%q,"creationTime":%d,"companyId":"cmp-1","partyID":"p-1","callType":"Inbound","agentID":"1001"}}`, callID, t0)
	}
}

// step correlates one event as the relay does around a successful publish:
// id claim, Begin, Commit, id commit.
func step(tb testing.TB, c *correlate.Correlator, ids *correlate.Dedup, data []byte, id string, seen time.Time) {
	m, err := events.Parse(data, events.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	claim, dup, err := ids.Claim(ctx, ids.KeyOf(id))
	if err != nil || dup {
		tb.Fatalf("id %s: dup %v err %v", id, dup, err)
	}
	ev := events.NewEvent(m, id, "default", "", seen, seen)
	txn, err := c.Begin(ctx, correlate.Input{Msg: m, Event: ev, SeenAt: seen})
	if err != nil || txn.Dup != "" {
		tb.Fatalf("begin %s: %q %v", id, txn.Dup, err)
	}
	if err := txn.Commit(ctx, nil); err != nil {
		tb.Fatal(err)
	}
	claim.Commit()
}

func newCorrelator(tb testing.TB, st correlate.State) (*correlate.Correlator, *correlate.Dedup) {
	c, err := correlate.New(correlate.Config{Tenant: "default"}, st, prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	return c, correlate.NewDedup(correlate.DefaultDedupWindow, correlate.DefaultDedupMax)
}

var lifecycle = []string{"ringing", "talk", "established", "released", "deleted"}

// benchCorrelate runs one correlation step per iteration: the five
// messages of one call after another, a new call every five iterations.
func benchCorrelate(b *testing.B, st correlate.State) {
	c, ids := newCorrelator(b, st)
	seen := time.Now()
	datas := make([][]byte, 0, b.N)
	for i := 0; i < b.N; i++ {
		datas = append(datas, callData(lifecycle[i%len(lifecycle)], "BENCH-"+strconv.Itoa(i/len(lifecycle)), 1763717400000))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step(b, c, ids, datas[i], "id-"+strconv.Itoa(i), seen)
	}
}

// BenchmarkCorrelateMemory is the correlation of one event (parse, id and
// content keys, read, apply, enrich, view, commit) in memory mode.
func BenchmarkCorrelateMemory(b *testing.B) { benchCorrelate(b, nil) }

// BenchmarkCorrelateShared is the same against the JetStream KV state of an
// in-process NATS server (memory storage): several KV round trips.
func BenchmarkCorrelateShared(b *testing.B) {
	ns, err := sinks.NewEmbedded(sinks.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: b.TempDir(), JetStream: true, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	if err := ns.Start(10 * time.Second); err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := sinks.NewKV(ctx, nc, sinks.KVConfig{Bucket: "callrelay", EndedTTL: 5 * time.Minute, IdleTTL: 6 * time.Hour, KeyTTL: 10 * time.Minute, Memory: true})
	if err != nil {
		b.Fatal(err)
	}
	defer kv.Close()
	benchCorrelate(b, kv)
}

// BenchmarkBytesPerCall tracks b.N calls (use -benchtime=100000x) and
// reports the heap held per tracked call, the relay's id dedup entries
// included: the four phone-bar events of a call (ringing, established,
// released, deleted), and the same with the talk details.
func BenchmarkBytesPerCall(b *testing.B) {
	for _, tc := range []struct {
		name  string
		steps []string
	}{
		{"4events", []string{"ringing", "established", "released", "deleted"}},
		{"5events_with_talk", lifecycle},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, ids := newCorrelator(b, nil)
			seen := time.Now()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				callID := "C-" + strconv.Itoa(i)
				for j, s := range tc.steps {
					step(b, c, ids, callData(s, callID, 1763717400000+int64(i)), callID+"-"+strconv.Itoa(j), seen)
				}
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			calls, _ := c.Mirror().Len()
			if calls > correlate.DefaultMaxCalls {
				b.Fatalf("tracking %d calls, over the cap of %d", calls, correlate.DefaultMaxCalls)
			}
			if calls > 0 {
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(calls), "bytes/call")
			}
			b.ReportMetric(float64(calls), "calls-held")
			runtime.KeepAlive(c)
			runtime.KeepAlive(ids)
		})
	}
}
