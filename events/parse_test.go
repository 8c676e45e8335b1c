package events_test

import (
	"strings"
	"testing"

	"github.com/callrelay/callrelay/events"
)

func TestParseRules(t *testing.T) {
	big := callBar(`"messageID":"EventRinging","pad":"` + strings.Repeat("x", events.DefaultMaxBytes) + `"`)
	tests := []struct {
		name string
		data string
		opts events.Options
		code string // "" when Parse must succeed
	}{
		{"too large by default", big, events.Options{}, events.ETooLarge},
		{"too large for MaxBytes", iframe(""), events.Options{MaxBytes: 10}, events.ETooLarge},
		{"exactly MaxBytes", iframe(""), events.Options{MaxBytes: len(iframe(""))}, ""},
		{"large but allowed", big, events.Options{MaxBytes: 2 * events.DefaultMaxBytes}, ""},
		{"size before utf8", "\xff" + big, events.Options{}, events.ETooLarge},
		{"invalid utf8 before json", "\xff{", events.Options{}, events.EInvalidUTF8},
		{"invalid utf8 in a string", iframe(`"city":"S` + "\xe3" + `o"`), events.Options{}, events.EInvalidUTF8},
		{"empty", "", events.Options{}, events.EInvalidJSON},
		{"spaces", "  \n", events.Options{}, events.EInvalidJSON},
		{"truncated", `{"source":"agentCall"`, events.Options{}, events.EInvalidJSON},
		{"trailing value", iframe("") + " 1", events.Options{}, events.EInvalidJSON},
		{"single quotes", `{'source':'agentCall'}`, events.Options{}, events.EInvalidJSON},
		{"array", `[]`, events.Options{}, events.ENotObject},
		{"null", `null`, events.Options{}, events.ENotObject},
		{"number", ` 42 `, events.Options{}, events.ENotObject},
		{"true", `true`, events.Options{}, events.ENotObject},
		{"empty object", `{}`, events.Options{}, events.EInvalidSource},
		{"source null", `{"source":null,"type":"iframeParams","params":{}}`, events.Options{}, events.EInvalidSource},
		{"source object", `{"source":{},"type":"iframeParams","params":{}}`, events.Options{}, events.EInvalidSource},
		{"source with spaces", `{"source":" agentCall","type":"iframeParams","params":{}}`, events.Options{}, events.EInvalidSource},
		{"source before type", `{"source":"x","type":"x"}`, events.Options{}, events.EInvalidSource},
		{"Source key case", `{"Source":"agentCall","type":"iframeParams","params":{}}`, events.Options{}, events.EInvalidSource},
		{"escaped source", `{"source":"agent\u0043all","type":"iframeParams","params":{}}`, events.Options{}, ""},
		{"IFRAME_READY", `{"source":"agentCall","type":"IFRAME_READY"}`, events.Options{}, events.EInvalidType},
		{"REQUEST_IFRAME_PARAMS", `{"source":"agentCall","type":"REQUEST_IFRAME_PARAMS"}`, events.Options{}, events.EInvalidType},
		{"type number", `{"source":"agentCall","type":1,"params":{}}`, events.Options{}, events.EInvalidType},
		{"type before params", `{"source":"agentCall","type":"selected"}`, events.Options{}, events.EInvalidType},
		{"params missing", `{"source":"agentCall","type":"callBarEvent"}`, events.Options{}, events.EInvalidParams},
		{"params null", `{"source":"agentCall","type":"callBarEvent","params":null}`, events.Options{}, events.EInvalidParams},
		{"params number", `{"source":"agentCall","type":"callBarEvent","params":1}`, events.Options{}, events.EInvalidParams},
		{"params array", `{"source":"agentCall","type":"iframeParams","params":[]}`, events.Options{}, events.EInvalidParams},
		{"params spaced object", `{"source":"agentCall","type":"iframeParams","params": { } }`, events.Options{}, ""},
		{"messageID absent", callBar(`"callID":"1"`), events.Options{}, events.EMissingMessageID},
		{"messageID null", callBar(`"messageID":null`), events.Options{}, events.EMissingMessageID},
		{"messageID empty", callBar(`"messageID":""`), events.Options{}, events.EMissingMessageID},
		{"messageID number", callBar(`"messageID":1`), events.Options{}, events.EInvalidMessageID},
		{"messageID array", callBar(`"messageID":["EventRinging"]`), events.Options{}, events.EInvalidMessageID},
		{"messageID dot", callBar(`"messageID":"Event.Ringing"`), events.Options{}, events.EInvalidMessageID},
		{"messageID star", callBar(`"messageID":"*"`), events.Options{}, events.EInvalidMessageID},
		{"messageID underscore", callBar(`"messageID":"Event_Ringing"`), events.Options{}, events.EInvalidMessageID},
		{"messageID space", callBar(`"messageID":" EventRinging"`), events.Options{}, events.EInvalidMessageID},
		{"messageID non-ASCII", callBar(`"messageID":"Évent"`), events.Options{}, events.EInvalidMessageID},
		{"messageID 64 chars", callBar(`"messageID":"E` + strings.Repeat("x", 63) + `"`), events.Options{}, ""},
		{"messageID 65 chars", callBar(`"messageID":"E` + strings.Repeat("x", 64) + `"`), events.Options{}, events.EInvalidMessageID},
		{"messageID before fields", callBar(`"messageID":"a.b","uphone":1`), events.Options{}, events.EInvalidMessageID},
		{"unknown messageID", callBar(`"messageID":"EventAgentRegainStatus"`), events.Options{}, ""},
		{"unknown messageID strict", callBar(`"messageID":"EventAgentRegainStatus"`), events.Options{StrictMessageIDs: true}, events.EUnknownMessageID},
		{"known messageID strict", callBar(`"messageID":"EventRinging"`), events.Options{StrictMessageIDs: true}, ""},
		{"messageID case matters", callBar(`"messageID":"eventringing"`), events.Options{StrictMessageIDs: true}, events.EUnknownMessageID},
		{"iframeParams ignores messageID", iframe(`"messageID":"a.b"`), events.Options{}, ""},
		{"unknown field never checked", iframe(`"custom":{"a":[1.5,true]},"uphone2":5`), events.Options{}, ""},
		{"field names are case-sensitive", iframe(`"UPHONE":5`), events.Options{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := events.Parse([]byte(tt.data), tt.opts)
			if got := events.ErrorCode(err); got != tt.code {
				t.Fatalf("code: got %q (err %v), want %q", got, err, tt.code)
			}
			if tt.code == "" && m == nil {
				t.Fatalf("message: got nil, want a message")
			}
			if tt.code != "" && m != nil {
				t.Fatalf("message: got %+v, want nil", m)
			}
		})
	}
}

func TestParseFieldKinds(t *testing.T) {
	kinds := map[string][]string{
		"text": {"uemail", "email", "sign", "uphone", "encryptUphone", "province", "city",
			"partyRole", "attachedData", "thisDNRole", "otherDNRole", "thirdDNRole",
			"firstDistributedQueueName", "lastDistributedQueueName"},
		"id": {"partnerId", "uid", "callId", "callID", "partyID", "companyId", "referenceID",
			"gatewayNumber", "agentID", "agentUUID", "ANI", "DNIS", "thisDN", "otherDN", "thirdDN",
			"firstDistributedQueueUUID", "firstDistributedQueueId",
			"lastDistributedQueueUUID", "lastDistributedQueueId"},
		"millis":   {"timestamp", "startTime", "creationTime"},
		"callType": {"callType"},
	}
	// accept tells, per kind, whether each JSON value is allowed.
	values := []struct {
		json   string
		accept map[string]bool
	}{
		{`null`, map[string]bool{"text": true, "id": true, "millis": true, "callType": true}},
		{`"x-1"`, map[string]bool{"text": true, "id": true, "callType": true}},
		{`""`, map[string]bool{"text": true, "id": true, "callType": true}},
		{`"1732154400123"`, map[string]bool{"text": true, "id": true, "millis": true, "callType": true}},
		{`" 17"`, map[string]bool{"text": true, "id": true, "callType": true}},
		{`"-17"`, map[string]bool{"text": true, "id": true, "callType": true}},
		{`"99999999999999999999"`, map[string]bool{"text": true, "id": true, "callType": true}},
		{`0`, map[string]bool{"id": true, "millis": true, "callType": true}},
		{`1732154400123`, map[string]bool{"id": true, "millis": true, "callType": true}},
		{`-2`, map[string]bool{"id": true, "callType": true}},
		{`123456789012345678901234567890`, map[string]bool{"id": true, "callType": true}},
		{`1.5`, map[string]bool{}},
		{`2.0`, map[string]bool{}},
		{`1e3`, map[string]bool{}},
		{`true`, map[string]bool{}},
		{`false`, map[string]bool{}},
		{`{}`, map[string]bool{}},
		{`[]`, map[string]bool{}},
	}
	for kind, fields := range kinds {
		for _, field := range fields {
			for _, v := range values {
				t.Run(field+"="+v.json, func(t *testing.T) {
					data := callBar(`"messageID":"EventEstablished","` + field + `":` + v.json)
					_, err := events.Parse([]byte(data), events.Options{})
					want := ""
					if !v.accept[kind] {
						want = events.EInvalidField
					}
					if got := events.ErrorCode(err); got != want {
						t.Fatalf("code: got %q (err %v), want %q", got, err, want)
					}
					if want != "" && !strings.Contains(events.ErrorMessage(err), "params."+field+" must be") {
						t.Errorf("message: got %q, want it to name params.%s", events.ErrorMessage(err), field)
					}
				})
			}
		}
	}
}

func TestParseErrorsHideValues(t *testing.T) {
	secrets := []string{"13800138000", "agent01@example.com", "SECRETSIGN", "a.b.c"}
	inputs := []string{
		iframe(`"uphone":13800138000`),
		iframe(`"email":["agent01@example.com"]`),
		iframe(`"timestamp":"SECRETSIGN"`),
		callBar(`"messageID":"a.b.c"`),
		`{"source":"13800138000","type":"iframeParams","params":{}}`,
		`{"source":"agentCall","type":"agent01@example.com","params":{}}`,
		`{"source":"agentCall","type":"iframeParams","params":"13800138000"}`,
		`{"13800138000":x}`,
	}
	for _, in := range inputs {
		_, err := events.Parse([]byte(in), events.Options{})
		if err == nil {
			t.Fatalf("Parse(%s): got nil error, want one", in)
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("Parse(%s): error %q contains a value", in, err)
			}
		}
	}
}

func TestParseFirstInvalidFieldIsReported(t *testing.T) {
	_, err := events.Parse([]byte(iframe(`"city":1,"uphone":1`)), events.Options{})
	if got, want := events.ErrorMessage(err), "params.uphone must be a string or null"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
