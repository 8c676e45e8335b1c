package events_test

import (
	"encoding/json"
	"testing"

	"github.com/callrelay/callrelay/events"
)

func TestParseDirection(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want events.Direction
		ok   bool
	}{
		{"float64 2", float64(2), events.DirectionInbound, true},
		{"float64 3", float64(3), events.DirectionOutbound, true},
		{"float64 4", float64(4), events.DirectionInquiry, true},
		{"float64 2.5", 2.5, "", false},
		{"float64 -2", float64(-2), "", false},
		{"float64 huge", 1e300, "", false},
		{"json.Number 2", json.Number("2"), events.DirectionInbound, true},
		{"json.Number 2.0", json.Number("2.0"), "", false},
		{"int 3", 3, events.DirectionOutbound, true},
		{"int64 4", int64(4), events.DirectionInquiry, true},
		{"int32 2", int32(2), events.DirectionInbound, true},
		{"int 12", 12, "", false},
		{"string 2", "2", events.DirectionInbound, true},
		{"Inbound", "Inbound", events.DirectionInbound, true},
		{"inbound", "inbound", events.DirectionInbound, true},
		{"Outbound", "Outbound", events.DirectionOutbound, true},
		{"Consult", "Consult", events.DirectionInquiry, true},
		{"Inquiry", "Inquiry", events.DirectionInquiry, true},
		{"Internal", "Internal", events.DirectionInternal, true},
		{"spaced", "\t Internal \n", events.DirectionInternal, true},
		{"unknown 9", "9", "", false},
		{"unknown word", "Transfer", "", false},
		{"empty", "", "", false},
		{"nil", nil, "", false},
		{"bool", true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := events.ParseDirection(tt.v)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q, %v, want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
