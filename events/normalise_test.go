package events_test

import (
	"reflect"
	"testing"

	"github.com/callrelay/callrelay/events"
)

func TestParseCallID(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"callBarEvent callID", callBar(`"messageID":"EventRinging","callID":"c-1"`), "c-1"},
		{"callBarEvent callId", callBar(`"messageID":"EventRinging","callId":"c-2"`), "c-2"},
		{"callBarEvent prefers callID", callBar(`"messageID":"EventRinging","callId":"c-2","callID":"c-1"`), "c-1"},
		{"callBarEvent empty callID falls back", callBar(`"messageID":"EventRinging","callID":"","callId":"c-2"`), "c-2"},
		{"iframeParams callId", iframe(`"callId":"c-3"`), "c-3"},
		{"iframeParams callID", iframe(`"callID":"c-4"`), "c-4"},
		{"iframeParams prefers callId", iframe(`"callID":"c-4","callId":"c-3"`), "c-3"},
		{"iframeParams null callId falls back", iframe(`"callId":null,"callID":"c-4"`), "c-4"},
		{"numeric", iframe(`"callId":4200000123`), "4200000123"},
		{"large numeric exact", callBar(`"messageID":"EventRinging","callID":987654321012345678901`), "987654321012345678901"},
		{"negative zero", iframe(`"callId":-0`), "0"},
		{"escaped string", iframe(`"callId":"c\u002d5"`), "c-5"},
		{"absent", iframe(`"uphone":"13800138000"`), ""},
		{"null", iframe(`"callId":null`), ""},
		{"empty", iframe(`"callId":""`), ""},
		{"wrong case ignored", iframe(`"CALLID":"c-6"`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MustParse(t, tt.data).CallID; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseDirectionFromCallType(t *testing.T) {
	tests := []struct {
		callType string
		want     events.Direction
	}{
		{`2`, events.DirectionInbound},
		{`"2"`, events.DirectionInbound},
		{`"Inbound"`, events.DirectionInbound},
		{`"inbound"`, events.DirectionInbound},
		{`" INBOUND "`, events.DirectionInbound},
		{`3`, events.DirectionOutbound},
		{`"3"`, events.DirectionOutbound},
		{`"Outbound"`, events.DirectionOutbound},
		{`4`, events.DirectionInquiry},
		{`"4"`, events.DirectionInquiry},
		{`"Consult"`, events.DirectionInquiry},
		{`"Inquiry"`, events.DirectionInquiry},
		{`"Internal"`, events.DirectionInternal},
		{`9`, ""},
		{`"9"`, ""},
		{`-2`, ""},
		{`"Outgoing"`, ""},
		{`""`, ""},
		{`null`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.callType, func(t *testing.T) {
			for _, data := range []string{
				iframe(`"callType":` + tt.callType),
				callBar(`"messageID":"EventRinging","callType":` + tt.callType),
			} {
				if got := MustParse(t, data).Direction; got != tt.want {
					t.Errorf("%s: got %q, want %q", data, got, tt.want)
				}
			}
		})
	}
}

func TestParseCreationTime(t *testing.T) {
	tests := []struct {
		name string
		data string
		want int64
	}{
		{"number", callBar(`"messageID":"EventRinging","creationTime":1732154400123`), 1732154400123},
		{"string", callBar(`"messageID":"EventRinging","creationTime":"1732154400123"`), 1732154400123},
		{"max int64", callBar(`"messageID":"EventRinging","creationTime":9223372036854775807`), 9223372036854775807},
		{"null", callBar(`"messageID":"EventRinging","creationTime":null`), 0},
		{"absent", callBar(`"messageID":"EventRinging"`), 0},
		{"not on iframeParams", iframe(`"creationTime":1732154400123`), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MustParse(t, tt.data).CreationTime; got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
	_, err := events.Parse([]byte(callBar(`"messageID":"EventRinging","creationTime":9223372036854775808`)), events.Options{})
	if got := events.ErrorCode(err); got != events.EInvalidField {
		t.Errorf("int64 overflow: got %q, want %q", got, events.EInvalidField)
	}
}

func TestParseQueue(t *testing.T) {
	tests := []struct {
		name string
		data string
		want *events.Queue
	}{
		{"all six", string(MustReadFile(t, "valid/callBarEvent__EventEstablished.json")), &events.Queue{
			First: events.QueueRef{UUID: "0b9c8d7e-6f5a-4b3c-2d1e-0f9a8b7c6d5e", ID: "201", Name: "售前咨询"},
			Last:  events.QueueRef{UUID: "1c0d9e8f-7a6b-4c5d-3e2f-1a0b9c8d7e6f", ID: "202", Name: "VIP Support"},
		}},
		{"last only", callBar(`"messageID":"EventEstablished","lastDistributedQueueName":"Sales"`),
			&events.Queue{Last: events.QueueRef{Name: "Sales"}}},
		{"numeric uuid", callBar(`"messageID":"EventEstablished","firstDistributedQueueUUID":77`),
			&events.Queue{First: events.QueueRef{UUID: "77"}}},
		{"all null", callBar(`"messageID":"EventEstablished","firstDistributedQueueId":null,"lastDistributedQueueName":""`), nil},
		{"none", callBar(`"messageID":"EventEstablished"`), nil},
		{"not on other events", callBar(`"messageID":"EventRinging","firstDistributedQueueId":201`), nil},
		{"not on iframeParams", iframe(`"firstDistributedQueueId":201`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MustParse(t, tt.data).Queue; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseLocation(t *testing.T) {
	tests := []struct {
		name string
		data string
		want *events.Location
	}{
		{"both", callBar(`"messageID":"EventEstablished","province":"广东","city":"深圳"`), &events.Location{Province: "广东", City: "深圳"}},
		{"city only", iframe(`"province":"","city":"Shenzhen"`), &events.Location{City: "Shenzhen"}},
		{"province only", iframe(`"province":"Zhejiang","city":null`), &events.Location{Province: "Zhejiang"}},
		{"empty", iframe(`"province":"","city":""`), nil},
		{"absent", iframe(``), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MustParse(t, tt.data).Location; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseAgentAndCustomer(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		agent    *events.Agent
		customer *events.Customer
	}{
		{"iframeParams encrypted", string(MustReadFile(t, "valid/iframeParams__encrypted.json")),
			&events.Agent{Email: "agent01@example.com"},
			&events.Customer{PartnerID: "CRM-000123", UID: "7d6c5b4a39281706f5e4d3c2b1a09f8e", Uphone: "158****2496",
				EncryptUphone: "U2FsdGVkX19x3k2Q9mZ0cR7fWv1pA4bN8eK6tYj5sLg=", Uemail: "li.lei@example.com"}},
		{"iframeParams plain", iframe(`"uphone":"13800138000","encryptUphone":null,"uid":12345`),
			nil, &events.Customer{Uphone: "13800138000", UID: "12345"}},
		{"iframeParams empty", iframe(`"partnerId":"","uid":null`), nil, nil},
		{"agent event", callBar(`"messageID":"EventAgentLogin","agentID":1001,"agentUUID":"u-1"`),
			&events.Agent{ID: "1001", UUID: "u-1"}, nil},
		{"callBarEvent email ignored", callBar(`"messageID":"EventAgentLogin","email":"agent01@example.com"`), nil, nil},
		{"callBarEvent customer ignored", callBar(`"messageID":"EventRinging","uphone":"13800138000"`), nil, nil},
		{"subject never from params", iframe(`"subject":"root"`), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := MustParse(t, tt.data)
			if !reflect.DeepEqual(m.Agent, tt.agent) {
				t.Errorf("Agent: got %+v, want %+v", m.Agent, tt.agent)
			}
			if !reflect.DeepEqual(m.Customer, tt.customer) {
				t.Errorf("Customer: got %+v, want %+v", m.Customer, tt.customer)
			}
		})
	}
}

func TestParseKeepsRawParams(t *testing.T) {
	params := `{ "callId" : 1.0e0 , "x":"\u00e9" }`
	data := `{"source":"agentCall","type":"iframeParams","params":` + params + `}`
	_, err := events.Parse([]byte(data), events.Options{})
	if events.ErrorCode(err) != events.EInvalidField {
		t.Fatalf("got %v, want invalid_field for callId 1.0e0", err)
	}
	params = `{ "custom" : 1.0e0 , "x":"\u00e9", "n": 12345678901234567890123 }`
	data = `{"source":"agentCall","type":"iframeParams","params":` + params + ` , "extra":1}`
	m := MustParse(t, data)
	if got := string(m.Params); got != params {
		t.Errorf("got %s, want %s", got, params)
	}
	// Params is a sub-slice of the caller's buffer (no copy); a call record
	// that keeps the talk details keeps its own copy, since the relay
	// reuses its frame buffers.
	buf := []byte(data)
	m, err = events.Parse(buf, events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := events.NewCallRecord("C")
	m.CallID = "C"
	rec.Apply(events.CallInput{Msg: m})
	for i := range buf {
		buf[i] = ' '
	}
	if got := string(m.Params); got == params {
		t.Errorf("after reusing the buffer: Params still %s, want it to share the buffer", got)
	}
	if got := string(rec.Talk); got != params {
		t.Errorf("after reusing the buffer: the record's talk is %s, want %s", got, params)
	}
}
