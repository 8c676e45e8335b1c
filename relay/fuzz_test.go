package relay

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeFrame feeds arbitrary bytes through the relay's own decoding of
// a client frame (the frame object, its id and seenAt) and the encoding of
// the answer: it must never panic, and every answer must be valid JSON of
// the protocol's shape.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"event","id":"a-1","seenAt":"2026-11-21T09:30:00.123Z","data":{"source":"agentCall"}}`,
		`{"type":"event","id":"a-2","seenAt":1763717400123,"data":{}}`,
		`{"type":"hello","session":"s-1","client":"hook","token":"t"}`,
		`{"type":"event","id":123,"seenAt":null}`,
		`{"type":"event","id":"` + string(make([]byte, 300)) + `"}`,
		`{"events":[{"id":"b"}]}`,
		`[1,2]`, `null`, `"x"`, ``, "\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr inFrame
		if err := json.Unmarshal(data, &fr); err != nil {
			_ = jsonErrorText(err)
			return
		}
		id, echo, ok := parseID(fr.ID)
		if ok && (id != echo || !validID(id)) {
			t.Fatalf("parseID accepted %q (echo %q)", id, echo)
		}
		if len(echo) > 2*maxIDLen {
			t.Fatalf("echo of %d bytes", len(echo))
		}
		if ts, ok := parseSeenAt(fr.SeenAt); ok && ts.Location().String() != "UTC" {
			t.Fatalf("seenAt not in UTC: %v", ts)
		}
		for _, r := range []Result{
			{ID: id, Status: StatusPublished},
			nack(echo, CodeInvalidFrame, "m"),
		} {
			b, err := json.Marshal(r)
			if err != nil || !json.Valid(b) {
				t.Fatalf("answer %+v: %s, %v", r, b, err)
			}
		}
		var batch batchRequest
		_ = json.Unmarshal(data, &batch)
	})
}
