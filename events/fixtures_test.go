package events_test

import (
	"bytes"
	"testing"

	"github.com/callrelay/callrelay/events"
)

func TestParseValidFixtures(t *testing.T) {
	for _, f := range MustFixtures(t, "valid") {
		t.Run(f.name, func(t *testing.T) {
			m, err := events.Parse(f.data, events.Options{})
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if m.Source != events.Source {
				t.Errorf("Source: got %q, want %q", m.Source, events.Source)
			}
			if m.Type == events.TypeCallBarEvent && m.Known != events.IsKnownMessageID(m.MessageID) {
				t.Errorf("Known: got %v, want %v", m.Known, !m.Known)
			}
			if !bytes.HasPrefix(m.Params, []byte("{")) || !bytes.HasSuffix(m.Params, []byte("}")) {
				t.Errorf("Params: got %.40q..., want the raw params object", m.Params)
			}
			if !bytes.Contains(f.data, m.Params) {
				t.Errorf("Params: not the raw bytes of the input")
			}
			if events.IsTalkEvent(m.MessageID) && m.CallID == "" {
				t.Errorf("CallID: got empty, want the callID of talk event %s", m.MessageID)
			}
		})
	}
}

func TestParseInvalidFixtures(t *testing.T) {
	for _, f := range MustFixtures(t, "invalid") {
		t.Run(f.name, func(t *testing.T) {
			m, err := events.Parse(f.data, events.Options{})
			if got := events.ErrorCode(err); got != f.code {
				t.Fatalf("code: got %q (err %v), want %q", got, err, f.code)
			}
			if m != nil {
				t.Errorf("message: got %+v, want nil", m)
			}
			if events.ErrorMessage(err) == "" {
				t.Errorf("message: got empty, want an explanation")
			}
		})
	}
}

// TestParseEveryKnownMessageID checks that a valid fixture exists for each
// of the 14 message IDs and that it is classified as a talk or agent event.
func TestParseEveryKnownMessageID(t *testing.T) {
	for _, id := range events.KnownMessageIDs() {
		t.Run(id, func(t *testing.T) {
			m, err := events.Parse(MustReadFile(t, "valid/callBarEvent__"+id+".json"), events.Options{StrictMessageIDs: true})
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if m.MessageID != id || !m.Known {
				t.Errorf("got MessageID %q Known %v, want %q true", m.MessageID, m.Known, id)
			}
			if events.IsAgentEvent(id) {
				if m.Agent == nil || m.Agent.ID == "" || m.Agent.UUID == "" {
					t.Errorf("Agent: got %+v, want ID and UUID", m.Agent)
				}
				if m.CallID != "" {
					t.Errorf("CallID: got %q, want empty for an agent event", m.CallID)
				}
			}
			if m.CreationTime <= 0 {
				t.Errorf("CreationTime: got %d, want > 0", m.CreationTime)
			}
		})
	}
}
