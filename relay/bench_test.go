package relay_test

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkWebSocketRoundTrip measures one event from frame written to ack
// read, one at a time on one connection, through a JetStream stream on
// file storage (the default setup): the latency a hook sees.
func BenchmarkWebSocketRoundTrip(b *testing.B) {
	tr := MustRelay(b)
	c := tr.MustDial(b)
	ev := callBar("EventEstablished", map[string]any{
		"callID": "CALL-1", "callType": "Inbound", "province": "Guangdong", "city": "Shenzhen",
		"firstDistributedQueueUUID": "q1", "firstDistributedQueueId": "1001", "firstDistributedQueueName": "Sales",
		"lastDistributedQueueUUID": "q2", "lastDistributedQueueId": "1002", "lastDistributedQueueName": "VIP",
	})
	params := ev["params"].(map[string]any)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A new vendor event each time (creationTime), not a content duplicate.
		params["creationTime"] = 1763717400000 + i
		if a := c.Call(b, fmt.Sprintf("rt-%d", i), ev); a.Type != "ack" || a.Status != "published" {
			b.Fatalf("got %+v", a)
		}
	}
}

// BenchmarkWebSocketPipelined measures throughput on one connection when the
// client keeps up to 64 events in flight (the hook's outbox flush).
func BenchmarkWebSocketPipelined(b *testing.B) {
	tr := MustRelay(b)
	c := tr.MustDial(b)
	ev := callBar("EventRinging", map[string]any{"callID": "CALL-1"})
	const window = 64
	b.ReportAllocs()
	b.ResetTimer()
	sent, read := 0, 0
	for read < b.N {
		for sent < b.N && sent-read < window {
			ev["params"].(map[string]any)["creationTime"] = 1763717400000 + sent
			c.SendEvent(b, fmt.Sprintf("pl-%d", sent), ev)
			sent++
		}
		if a := c.Read(b); a.Type != "ack" {
			b.Fatalf("got %+v", a)
		}
		read++
	}
}

// BenchmarkPostBatch measures a sendBeacon-sized batch of 50 events.
func BenchmarkPostBatch(b *testing.B) {
	tr := MustRelay(b)
	ev := callBar("EventAgentReady", map[string]any{"agentID": "1001"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parts := make([]string, 50)
		for j := range parts {
			ev["params"].(map[string]any)["creationTime"] = 1763717400000 + i*50 + j
			parts[j] = string(eventFrame(fmt.Sprintf("pb-%d-%d", i, j), ev))
		}
		resp, body := tr.post(b, `{"events":[`+strings.Join(parts, ",")+`]}`, nil)
		if resp.StatusCode != 200 || strings.Contains(string(body), "nack") || strings.Contains(string(body), "duplicate") {
			b.Fatalf("got %d %s", resp.StatusCode, body)
		}
	}
}
