package events_test

import (
	"strings"
	"testing"

	"github.com/callrelay/callrelay/events"
)

func TestNewSubjects(t *testing.T) {
	tests := []struct {
		prefix, tenant string
		ok             bool
	}{
		{"agentcall", "default", true},
		{"agentcall", "acme_EU-1", true},
		{"corp.prod.agentcall", "t1", true},
		{"agentcall", strings.Repeat("t", 64), true},
		{"agentcall", strings.Repeat("t", 65), false},
		{"", "default", false},
		{"agentcall", "", false},
		{".agentcall", "default", false},
		{"agentcall.", "default", false},
		{"agent..call", "default", false},
		{"agent call", "default", false},
		{"agentcall.*", "default", false},
		{"agentcall.>", "default", false},
		{"agentcall", "a.b", false},
		{"agentcall", "*", false},
		{"agentcall", ">", false},
		{"agentcall", "ténant", false},
		{"agentcall", "t\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+"|"+tt.tenant, func(t *testing.T) {
			s, err := events.NewSubjects(tt.prefix, tt.tenant)
			if (err == nil) != tt.ok {
				t.Fatalf("got error %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (s.Prefix != tt.prefix || s.Tenant != tt.tenant) {
				t.Errorf("got %+v, want prefix %q tenant %q", s, tt.prefix, tt.tenant)
			}
			if !tt.ok && err.Error() == "" {
				t.Errorf("got an empty error message, want an explanation")
			}
			if got := events.ValidTenant(tt.tenant); tt.ok && !got {
				t.Errorf("ValidTenant: got false, want true")
			}
		})
	}
}

func TestSubjectNames(t *testing.T) {
	s, err := events.NewSubjects("agentcall", "acme")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, got, want string
	}{
		{"CallBarEvent", s.CallBarEvent(events.MsgRinging), "agentcall.acme.callBarEvent.EventRinging"},
		{"IframeParams", s.IframeParams(), "agentcall.acme.iframeParams"},
		{"Call", s.Call(), "agentcall.acme.call"},
		{"Rejected", s.Rejected(), "agentcall.acme.rejected"},
		{"All", s.All(), "agentcall.acme.>"},
		{"Stream", s.Stream(), "agentcall.>"},
		{"For callBarEvent", s.For(MustParse(t, callBar(`"messageID":"EventEstablished"`))), "agentcall.acme.callBarEvent.EventEstablished"},
		{"For unknown messageID", s.For(MustParse(t, callBar(`"messageID":"EventAgentRegainStatus"`))), "agentcall.acme.callBarEvent.EventAgentRegainStatus"},
		{"For iframeParams", s.For(MustParse(t, iframe(`"callId":"1"`))), "agentcall.acme.iframeParams"},
		{"For nil", s.For(nil), ""},
		{"For other type", s.For(&events.Message{Type: "IFRAME_READY"}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}
