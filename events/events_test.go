package events_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/callrelay/callrelay/events"
)

func TestKnownMessageIDs(t *testing.T) {
	want := []string{
		"EventAgentReady", "EventAgentNotReady", "EventAgentLogin", "EventAgentLogout",
		"EventAgentConnectionChanged", "EventUnreachable", "EventUnregistered",
		"EventDialing", "EventRinging", "EventEstablished", "EventReleased",
		"EventCallDeleted", "EventPartyChanged", "EventPartyDeleted",
	}
	got := events.KnownMessageIDs()
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	got[0] = "changed"
	if again := events.KnownMessageIDs(); again[0] != want[0] {
		t.Errorf("after changing the returned slice: got %q, want %q", again[0], want[0])
	}
}

func TestMessageIDClasses(t *testing.T) {
	tests := []struct {
		id          string
		known, talk bool
		agent       bool
	}{
		{events.MsgAgentReady, true, false, true},
		{events.MsgAgentNotReady, true, false, true},
		{events.MsgAgentLogin, true, false, true},
		{events.MsgAgentLogout, true, false, true},
		{events.MsgAgentConnectionChanged, true, false, true},
		{events.MsgUnreachable, true, false, true},
		{events.MsgUnregistered, true, false, true},
		{events.MsgDialing, true, true, false},
		{events.MsgRinging, true, true, false},
		{events.MsgEstablished, true, true, false},
		{events.MsgReleased, true, true, false},
		{events.MsgCallDeleted, true, true, false},
		{events.MsgPartyChanged, true, true, false},
		{events.MsgPartyDeleted, true, true, false},
		{"EventAgentRegainStatus", false, false, false},
		{"eventringing", false, false, false},
		{"", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := events.IsKnownMessageID(tt.id); got != tt.known {
				t.Errorf("IsKnownMessageID: got %v, want %v", got, tt.known)
			}
			if got := events.IsTalkEvent(tt.id); got != tt.talk {
				t.Errorf("IsTalkEvent: got %v, want %v", got, tt.talk)
			}
			if got := events.IsAgentEvent(tt.id); got != tt.agent {
				t.Errorf("IsAgentEvent: got %v, want %v", got, tt.agent)
			}
		})
	}
}

func TestValidMessageID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"EventRinging", true},
		{"E", true},
		{"e2", true},
		{"E" + strings.Repeat("x", 63), true},
		{"E" + strings.Repeat("x", 64), false},
		{"", false},
		{"2E", false},
		{"Event.Ringing", false},
		{"Event*", false},
		{"Event>", false},
		{"Event Ringing", false},
		{"Event-Ringing", false},
		{"Event_Ringing", false},
		{"Évent", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := events.ValidMessageID(tt.id); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
