package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/nats-io/nats.go"
)

// Every message in the stream (an event with a call, an agent event without
// one, talk details, call views, a refused event) turns into a valid
// CloudEvent through the CloudEvents SDK's binary-mode reading of its
// headers, with the attributes README's "Subjects" section promises.
func TestPublishedMessagesAreCloudEvents(t *testing.T) {
	tr := MustRelay(t)
	c := tr.MustDial(t)
	for id, data := range map[string]any{
		"ce-ring":  callBar("EventRinging", map[string]any{"callID": "CALL-CE", "callType": "Inbound"}),
		"ce-ready": callBar("EventAgentReady", map[string]any{"agentID": "1001"}),
		"ce-talk":  iframeParams(map[string]any{"callId": "CALL-CE"}),
		"ce-bad":   map[string]any{"source": "agentCall", "type": "callBarEvent", "params": map[string]any{"callID": "X"}},
	} {
		if a := c.Call(t, id, data); a.Type == "" {
			t.Fatalf("%s: no answer", id)
		}
	}

	msgs := tr.streamMsgs(t)
	seen := map[string]int{}
	for _, m := range msgs {
		e, err := binding.ToEvent(context.Background(), natsBinary{m.Header, m.Data})
		if err != nil {
			t.Fatalf("%s: the SDK cannot read the message: %v", m.Subject, err)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("%s: %v", m.Subject, err)
		}
		var body struct {
			ID         string    `json:"id"`
			CallID     string    `json:"callId"`
			ReceivedAt time.Time `json:"receivedAt"`
			UpdatedAt  time.Time `json:"updatedAt"`
			Revision   int       `json:"revision"`
		}
		if err := json.Unmarshal(e.Data(), &body); err != nil {
			t.Fatalf("%s: data is not the JSON body: %v", m.Subject, err)
		}
		suffix := strings.TrimPrefix(m.Subject, "agentcall.default.")
		seen[suffix]++
		if want := "com.sobot.agentcall." + suffix; e.Type() != want {
			t.Errorf("%s: got type %q, want %q", m.Subject, e.Type(), want)
		}
		if e.Source() != "/callrelay/agentcall/default" || e.SpecVersion() != "1.0" || e.DataContentType() != "application/json" {
			t.Errorf("%s: got source %q specversion %q datacontenttype %q", m.Subject, e.Source(), e.SpecVersion(), e.DataContentType())
		}
		if e.ID() != m.Header.Get(nats.MsgIdHdr) {
			t.Errorf("%s: got id %q, want the Nats-Msg-Id %q", m.Subject, e.ID(), m.Header.Get(nats.MsgIdHdr))
		}
		if e.Subject() != body.CallID {
			t.Errorf("%s: got subject %q, want the callId %q", m.Subject, e.Subject(), body.CallID)
		}
		if e.Time().IsZero() || time.Since(e.Time()) > time.Minute {
			t.Errorf("%s: got time %v, want the time the relay received the event", m.Subject, e.Time())
		}
		switch suffix {
		case "call":
			if !strings.HasPrefix(e.ID(), "call:") || !strings.HasSuffix(e.ID(), ":"+strconv.Itoa(body.Revision)) {
				t.Errorf("call view: got id %q, want call:<call key>:<created>:%d", e.ID(), body.Revision)
			}
			if d := body.UpdatedAt.Sub(e.Time()); d > time.Millisecond || d < -time.Millisecond {
				t.Errorf("call view: got time %v, updatedAt %v; want the same instant", e.Time(), body.UpdatedAt)
			}
		case "rejected":
			if e.ID() != "rejected:ce-bad" {
				t.Errorf("rejected: got id %q, want rejected:ce-bad", e.ID())
			}
		default:
			if e.ID() != body.ID || !e.Time().Equal(body.ReceivedAt) {
				t.Errorf("%s: got id %q time %v, want the body's id %q and receivedAt %v", m.Subject, e.ID(), e.Time(), body.ID, body.ReceivedAt)
			}
		}
	}
	for _, want := range []string{"callBarEvent.EventRinging", "callBarEvent.EventAgentReady", "iframeParams", "call", "rejected"} {
		if seen[want] == 0 {
			t.Errorf("no message on agentcall.default.%s; got %v", want, seen)
		}
	}
	if seen["call"] < 2 {
		t.Errorf("got %d call views, want one per revision (2)", seen["call"])
	}
}

// natsBinary is a NATS message read as a CloudEvents binary-mode message,
// the mapping of the CloudEvents NATS protocol binding: "ce-" headers are
// the attributes (extensions when the spec does not know them),
// content-type is datacontenttype, the body is the data.
type natsBinary struct {
	h    nats.Header
	data []byte
}

var ceSpecs = spec.WithPrefix("ce-")

func (m natsBinary) ReadEncoding() binding.Encoding {
	if m.h.Get(ceSpecs.PrefixedSpecVersionName()) == "" {
		return binding.EncodingUnknown
	}
	return binding.EncodingBinary
}

func (m natsBinary) ReadStructured(context.Context, binding.StructuredWriter) error {
	return binding.ErrNotStructured
}

func (m natsBinary) ReadBinary(_ context.Context, w binding.BinaryWriter) error {
	version := ceSpecs.Version(m.h.Get(ceSpecs.PrefixedSpecVersionName()))
	if version == nil {
		return binding.ErrNotBinary
	}
	for k, v := range m.h {
		var err error
		switch {
		case strings.HasPrefix(k, "ce-") && version.Attribute(k) != nil:
			err = w.SetAttribute(version.Attribute(k), v[0])
		case strings.HasPrefix(k, "ce-"):
			err = w.SetExtension(strings.TrimPrefix(k, "ce-"), v[0])
		case k == "content-type":
			err = w.SetAttribute(version.AttributeFromKind(spec.DataContentType), v[0])
		}
		if err != nil {
			return err
		}
	}
	return w.SetData(bytes.NewReader(m.data))
}

func (m natsBinary) GetAttribute(k spec.Kind) (spec.Attribute, any) {
	version := ceSpecs.Version(m.h.Get(ceSpecs.PrefixedSpecVersionName()))
	if version == nil {
		return nil, nil
	}
	attr := version.AttributeFromKind(k)
	if attr == nil {
		return nil, nil
	}
	if v := m.h.Get(attr.PrefixedName()); v != "" {
		return attr, v
	}
	return attr, nil
}

func (m natsBinary) GetExtension(name string) any {
	if v := m.h.Get("ce-" + name); v != "" {
		return v
	}
	return nil
}

var (
	_ binding.MessageReader         = natsBinary{}
	_ binding.MessageMetadataReader = natsBinary{}
)
