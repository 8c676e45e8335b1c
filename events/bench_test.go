package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/callrelay/callrelay/events"
)

func BenchmarkParse(b *testing.B) {
	data := MustReadFile(b, "valid/callBarEvent__EventEstablished.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Parse(data, events.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewEventMarshal(b *testing.B) {
	data := MustReadFile(b, "valid/callBarEvent__EventEstablished.json")
	m, err := events.Parse(data, events.Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		e := events.NewEvent(m, "01JDAXV9Q3K7Z2W8N5M4T6R1PB", "acme", "agent-1001", now, now)
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}
