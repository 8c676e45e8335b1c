package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/correlate"
	"github.com/callrelay/callrelay/relay"
	"github.com/callrelay/callrelay/sinks"
)

// MustNATS starts an embedded NATS server with JetStream on a random port.
func MustNATS(tb testing.TB) *sinks.Embedded {
	tb.Helper()
	ns, err := sinks.NewEmbedded(sinks.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: tb.TempDir(), JetStream: true, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatalf("embedded: %v", err)
	}
	if err := ns.Start(10 * time.Second); err != nil {
		tb.Fatalf("embedded start: %v", err)
	}
	tb.Cleanup(func() { _ = ns.Close() })
	return ns
}

// MustKV opens the shared correlation state on nc (memory storage).
func MustKV(tb testing.TB, nc *nats.Conn) *sinks.KV {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := sinks.NewKV(ctx, nc, sinks.KVConfig{
		Bucket: "callrelay", EndedTTL: 5 * time.Minute, IdleTTL: 6 * time.Hour, KeyTTL: 10 * time.Minute, Memory: true,
	})
	if err != nil {
		tb.Fatalf("kv state: %v", err)
	}
	return kv
}

// MustRelayOn starts a relay on the existing server ns, with its own NATS
// connection, its own JetStream sink and, when shared, its own handle on the
// shared KV state: what a second replica is.
func MustRelayOn(tb testing.TB, ns *sinks.Embedded, shared bool, opts ...relayOption) *testRelay {
	tb.Helper()
	var state func(*nats.Conn) correlate.State
	if shared {
		state = func(nc *nats.Conn) correlate.State { return MustKV(tb, nc) }
	}
	return mustReplica(tb, ns, state, opts...)
}

// mustReplica is MustRelayOn with the state made by state (nil: memory).
func mustReplica(tb testing.TB, ns *sinks.Embedded, state func(*nats.Conn) correlate.State, opts ...relayOption) *testRelay {
	tb.Helper()
	tr := &testRelay{ns: ns, logs: &syncBuffer{}}
	defaults := func(c *relay.Config) { c.PublishTimeout = 5 * time.Second }
	tr.start(tb, state, append([]relayOption{defaults}, opts...)...)
	return tr
}

// callView is the part of a published call view the tests compare.
type callView struct {
	CallID        string            `json:"callId"`
	State         string            `json:"state"`
	Direction     string            `json:"direction"`
	Agent         map[string]string `json:"agent"`
	Customer      map[string]string `json:"customer"`
	Queue         json.RawMessage   `json:"queue"`
	Location      map[string]string `json:"location"`
	RingingAt     string            `json:"ringingAt"`
	EstablishedAt string            `json:"establishedAt"`
	ReleasedAt    string            `json:"releasedAt"`
	EndedAt       string            `json:"endedAt"`
	RingSeconds   float64           `json:"ringSeconds"`
	TalkSeconds   float64           `json:"talkSeconds"`
	TalkDetails   bool              `json:"talkDetails"`
	MessageIDs    []string          `json:"messageIDs"`
	Parties       []string          `json:"parties"`
	Revision      uint64            `json:"revision"`
}

// views decodes the call views in the stream, in stream order.
func (tr *testRelay) views(tb testing.TB) []callView {
	tb.Helper()
	var out []callView
	for _, m := range tr.streamMsgs(tb) {
		if m.Subject != "agentcall.default.call" {
			continue
		}
		var v callView
		if err := json.Unmarshal(m.Data, &v); err != nil {
			tb.Fatalf("call view: %v", err)
		}
		out = append(out, v)
	}
	return out
}

// The five messages of one inbound call (by the vendor's clock: ringing at
// T, talk details at T+1s, established T+5s, released T+65s, deleted T+66s).
const t0 = 1763717400000

func callSteps(callID string) map[string]map[string]any {
	return map[string]map[string]any{
		"ringing": callBar("EventRinging", map[string]any{"callID": callID, "callType": "Inbound", "creationTime": t0, "partyID": "p-1", "agentID": "1001"}),
		"talk":    iframeParams(map[string]any{"callId": callID}),
		"established": callBar("EventEstablished", map[string]any{"callID": callID, "callType": "Inbound", "creationTime": t0 + 5000, "partyID": "p-1",
			"province": "Guangdong", "city": "Shenzhen",
			"firstDistributedQueueUUID": "q1", "firstDistributedQueueId": "1", "firstDistributedQueueName": "Sales",
			"lastDistributedQueueUUID": "q2", "lastDistributedQueueId": "2", "lastDistributedQueueName": "VIP"}),
		"released": callBar("EventReleased", map[string]any{"callID": callID, "creationTime": t0 + 65000, "partyID": "p-1"}),
		"deleted":  callBar("EventCallDeleted", map[string]any{"callID": callID, "creationTime": t0 + 66000}),
	}
}

var stepOrder = []string{"ringing", "talk", "established", "released", "deleted"}

// wantFinal is the final view of the call of callSteps.
func wantFinal(callID string) string {
	return fmt.Sprintf(`{"callId":%q,"state":"ended","direction":"inbound","agent":{"email":"agent01@example.com","id":"1001"},`+
		`"customer":{"encryptUphone":"ENC-QUJDREVGMTIzNDU2","partnerId":"P-778899","uemail":"li.lei@example.com","uid":"u-123","uphone":"158****2496"},`+
		`"queue":{"first":{"uuid":"q1","id":"1","name":"Sales"},"last":{"uuid":"q2","id":"2","name":"VIP"}},`+
		`"location":{"city":"Shenzhen","province":"Guangdong"},`+
		`"ringingAt":"2025-11-21T09:30:00Z","establishedAt":"2025-11-21T09:30:05Z","releasedAt":"2025-11-21T09:31:05Z","endedAt":"2025-11-21T09:31:06Z",`+
		`"ringSeconds":5,"talkSeconds":60,"talkDetails":true,"messageIDs":["EventRinging","EventEstablished","EventReleased","EventCallDeleted"],"parties":["p-1"],"revision":0}`, callID)
}

// final renders v without its revision, for comparison.
func final(v callView) string {
	v.Revision = 0
	b, _ := json.Marshal(v)
	return string(b)
}
