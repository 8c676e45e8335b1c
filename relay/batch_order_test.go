package relay_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/callrelay/callrelay/relay"
)

// failEvent wraps the real JetStream sink and fails, at once, every
// publish of the event whose id ends with id: what a publish refused while
// the NATS connection drops looks like to the relay.
type failEvent struct {
	relay.Sink
	id string
}

func (f *failEvent) Publish(env relay.Envelope, c relay.Completion, tag int) {
	if env.ID == f.id || strings.HasSuffix(env.ID, "/"+f.id) {
		c.Published(tag, false, errors.New("injected: not published"))
		return
	}
	f.Sink.Publish(env, c, tag)
}

// In a POST batch, once an event's publish has failed, no later event of
// the batch is published ahead of it: they are answered held_for_order,
// retryable, and only the events before it are in the stream. (Without
// the batch's order guard, events started before the failed one's answer
// is finished would be published.)
func TestBatchHoldsEventsAfterAFailedPublish(t *testing.T) {
	tr := mustRelayOverSink(t, func(js relay.Sink) relay.Sink { return &failEvent{Sink: js, id: "ord-3"} })

	const n = 8
	frames := make([]string, n)
	for i := range frames {
		id := "ord-" + string(rune('1'+i))
		frames[i] = string(eventFrame(id, callBar("EventAgentReady", map[string]any{"creationTime": 1763717400123 + i})))
	}
	resp, body := tr.post(t, `{"events":[`+strings.Join(frames, ",")+`]}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
	}
	var out struct{ Results []answer }
	if err := json.Unmarshal(body, &out); err != nil || len(out.Results) != n {
		t.Fatalf("results %s: %v", body, err)
	}
	for i, r := range out.Results {
		id := "ord-" + string(rune('1'+i))
		switch {
		case i < 2:
			if r.Type != "ack" || r.Status != relay.StatusPublished || r.ID != id {
				t.Errorf("%s, before the failure: got %+v, want ack published", id, r)
			}
		case i == 2:
			if r.Type != "nack" || !r.Retry || r.Code != relay.CodeSinkUnavailable || r.ID != id {
				t.Errorf("%s, the failed publish: got %+v, want a retryable %s nack", id, r, relay.CodeSinkUnavailable)
			}
		default:
			if r.Type != "nack" || !r.Retry || r.Code != relay.CodeHeldForOrder || r.ID != id {
				t.Errorf("%s, after the failure: got %+v, want a retryable %s nack", id, r, relay.CodeHeldForOrder)
			}
		}
	}
	got := tr.published(t, "agentcall.default.callBarEvent.EventAgentReady")
	var ids []string
	for _, m := range got {
		ids = append(ids, m["id"].(string))
	}
	if strings.Join(ids, ",") != "ord-1,ord-2" {
		t.Errorf("stored %v, want only ord-1 and ord-2, in that order", ids)
	}
}
