package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callrelay/callrelay/events"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// Fixed clocks for golden output: a hook 8 hours east of UTC and the relay in UTC.
var (
	seenAt     = time.Date(2024, 11, 21, 10, 0, 0, 123_000_000, time.FixedZone("CST", 8*3600))
	receivedAt = time.Date(2024, 11, 21, 2, 0, 0, 456_789_000, time.UTC)
)

func TestNewEventGolden(t *testing.T) {
	tests := []struct {
		fixture string
		subject string
	}{
		{"callBarEvent__EventEstablished", "agent-1001"},
		{"callBarEvent__EventAgentRegainStatus", ""},
		{"iframeParams__encrypted", "agent-1001"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			m, err := events.Parse(MustReadFile(t, "valid/"+tt.fixture+".json"), events.Options{})
			if err != nil {
				t.Fatal(err)
			}
			e := events.NewEvent(m, "01JDAXV9Q3K7Z2W8N5M4T6R1PB", "acme", tt.subject, seenAt, receivedAt)
			got, err := json.MarshalIndent(e, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", tt.fixture+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestNewEvent(t *testing.T) {
	m := MustParse(t, callBar(`"messageID":"EventAgentLogin","agentID":"1001"`))
	e := events.NewEvent(m, "id-1", "acme", "sub-1", seenAt, receivedAt)
	if e.SeenAt.Location() != time.UTC || e.ReceivedAt.Location() != time.UTC {
		t.Errorf("times: got %v and %v, want UTC", e.SeenAt.Location(), e.ReceivedAt.Location())
	}
	if !e.SeenAt.Equal(seenAt) {
		t.Errorf("SeenAt: got %v, want %v", e.SeenAt, seenAt)
	}
	if e.Agent == nil || e.Agent.Subject != "sub-1" || e.Agent.ID != "1001" {
		t.Errorf("Agent: got %+v, want subject sub-1 and ID 1001", e.Agent)
	}
	if m.Agent.Subject != "" {
		t.Errorf("message Agent.Subject: got %q, want it untouched", m.Agent.Subject)
	}
	if e.UnknownMessageID {
		t.Errorf("UnknownMessageID: got true, want false")
	}

	tests := []struct {
		name    string
		data    string
		subject string
		agent   *events.Agent
	}{
		{"subject creates Agent", callBar(`"messageID":"EventRinging"`), "sub-2", &events.Agent{Subject: "sub-2"}},
		{"no subject no Agent", callBar(`"messageID":"EventRinging"`), "", nil},
		{"email kept", iframe(`"email":"agent01@example.com"`), "", &events.Agent{Email: "agent01@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := events.NewEvent(MustParse(t, tt.data), "id", "acme", tt.subject, seenAt, receivedAt)
			if (e.Agent == nil) != (tt.agent == nil) || (e.Agent != nil && *e.Agent != *tt.agent) {
				t.Errorf("Agent: got %+v, want %+v", e.Agent, tt.agent)
			}
		})
	}
}

func TestNewEventOmitsEmptyFields(t *testing.T) {
	e := events.NewEvent(MustParse(t, callBar(`"messageID":"EventAgentReady"`)), "id", "acme", "", seenAt, receivedAt)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"callId", "direction", "queue", "location", "talk", "agent", "unknownMessageID"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s: got present, want omitted", k)
		}
	}
	for _, k := range []string{"id", "tenant", "type", "messageID", "seenAt", "receivedAt", "params"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: got omitted, want present", k)
		}
	}
}

func TestNewRejection(t *testing.T) {
	seen := seenAt
	valid := []byte(`{"source":"agentCall","type":"IFRAME_READY"}`)
	_, parseErr := events.Parse(valid, events.Options{})
	long := bytes.Repeat([]byte("é"), 3000) // 6000 bytes
	tests := []struct {
		name      string
		err       error
		data      []byte
		code, msg string
		wantData  bool
		wantRaw   string
	}{
		{"coded error keeps JSON", parseErr, valid, events.EInvalidType, events.ErrorMessage(parseErr), true, ""},
		{"not JSON goes to Raw", events.Errorf(events.EInvalidJSON, "bad"), []byte("source=agentCall"), events.EInvalidJSON, "bad", false, "source=agentCall"},
		{"invalid UTF-8 replaced", events.Errorf(events.EInvalidUTF8, "bad"), []byte("S\xe3o"), events.EInvalidUTF8, "bad", false, "S\uFFFDo"},
		{"too large JSON goes to Raw", events.Errorf(events.ETooLarge, "big"), []byte(`"abc"`), events.ETooLarge, "big", false, `"abc"`},
		{"internal error hidden", errors.New("nats: connection closed to 10.0.0.1"), valid, "internal", "internal error", true, ""},
		{"nil error", nil, nil, "internal", "internal error", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := events.NewRejection("id-1", "acme", events.ViaWS, tt.err, tt.data, &seen, receivedAt)
			if r.Code != tt.code || r.Message != tt.msg {
				t.Errorf("got %q %q, want %q %q", r.Code, r.Message, tt.code, tt.msg)
			}
			if got := r.Data != nil; got != tt.wantData {
				t.Errorf("Data set: got %v, want %v", got, tt.wantData)
			}
			if r.Raw != tt.wantRaw {
				t.Errorf("Raw: got %q, want %q", r.Raw, tt.wantRaw)
			}
			if r.SeenAt == nil || r.SeenAt.Location() != time.UTC || !r.SeenAt.Equal(seenAt) {
				t.Errorf("SeenAt: got %v, want %v in UTC", r.SeenAt, seenAt)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("Marshal: got %v, want nil", err)
			}
		})
	}

	t.Run("Raw is cut on a rune boundary", func(t *testing.T) {
		r := events.NewRejection("", "acme", events.ViaHTTP, events.Errorf(events.ETooLarge, "big"), long, nil, receivedAt)
		if len(r.Raw) > events.MaxRejectedRaw || len(r.Raw) < events.MaxRejectedRaw-4 {
			t.Errorf("len(Raw): got %d, want close to %d", len(r.Raw), events.MaxRejectedRaw)
		}
		if !utf8.ValidString(r.Raw) || strings.ContainsRune(r.Raw, utf8.RuneError) {
			t.Errorf("Raw: got invalid or replaced text, want whole runes")
		}
		if r.SeenAt != nil {
			t.Errorf("SeenAt: got %v, want nil", r.SeenAt)
		}
	})
	t.Run("Data does not alias the buffer", func(t *testing.T) {
		buf := append([]byte(nil), valid...)
		r := events.NewRejection("", "acme", events.ViaWS, parseErr, buf, nil, receivedAt)
		buf[0] = ' '
		if string(r.Data) != string(valid) {
			t.Errorf("got %s, want %s", r.Data, valid)
		}
	})
}
