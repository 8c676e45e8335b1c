package schema_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/events/schema"
)

// Every intermediate view of a call, built by the real state machine from
// real messages, matches call.schema.json.
func TestCallViewsMatchSchema(t *testing.T) {
	sch := MustCompile(t, schema.CallFile)
	msgs := []string{
		`{"source":"agentCall","type":"iframeParams","params":{"callId":"C-1","callType":2,"partnerId":"P","uid":"u","uphone":"158****2496","email":"a@example.com","province":"Guangdong"}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventDialing","callID":"C-1","creationTime":1763717400000}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventRinging","callID":"C-1","callType":"Inbound","creationTime":1763717401000,"agentID":"7","agentUUID":"uu"}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventEstablished","callID":"C-1","creationTime":1763717405000,"city":"Shenzhen","firstDistributedQueueId":"1","lastDistributedQueueName":"VIP"}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventPartyChanged","callID":"C-1","creationTime":1763717406000,"partyID":"p-2"}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventAgentRegainStatus","callID":"C-1","creationTime":1763717407000}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventReleased","callID":"C-1","creationTime":1763717465000}}`,
		`{"source":"agentCall","type":"callBarEvent","params":{"messageID":"EventCallDeleted","callID":"C-1","creationTime":1763717466000}}`,
	}
	rec := events.NewCallRecord("C-1")
	for i, raw := range msgs {
		m, err := events.Parse([]byte(raw), events.Options{})
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		rec.Apply(events.CallInput{Msg: m, AgentSubject: "agent-7", SeenAt: time.Now()})
		rec.Revision++
		rec.Updated = time.Now().UnixMilli()
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if err := validate(t, sch, rec.View("acme")); err != nil {
				t.Errorf("got %v, want valid", err)
			}
		})
	}
	// A view known only from an event without anything else is valid too.
	bare := events.NewCallRecord("C-2")
	bare.Revision = 1
	if err := validate(t, sch, bare.View("acme")); err != nil {
		t.Errorf("bare view: got %v, want valid", err)
	}
	// And the schema can fail.
	bad := rec.View("acme")
	bad.State = "sideways"
	if err := validate(t, sch, bad); err == nil {
		t.Error("a view with an unknown state: got valid, want an error")
	}
}
