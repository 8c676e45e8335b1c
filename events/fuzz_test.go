package events_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callrelay/callrelay/events"
)

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data, false)
		}
	}
	subjects, err := events.NewSubjects("agentcall.prod", "acme")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2024, 11, 21, 2, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, data []byte, strict bool) {
		m, err := events.Parse(data, events.Options{StrictMessageIDs: strict})
		// The one-pass scanner must agree with encoding/json on what is JSON.
		if code := events.ErrorCode(err); len(data) <= events.DefaultMaxBytes && utf8.Valid(data) &&
			(code == events.EInvalidJSON) == json.Valid(data) {
			t.Fatalf("got code %q for data that json.Valid says is valid=%v", code, json.Valid(data))
		}
		if m != nil && m.Type == events.TypeIframeParams {
			if got, want := m.TalkPrint, referenceFingerprint(m.Params); got != want {
				t.Fatalf("fingerprint: got %s, want %s (encoding/json)", got, want)
			}
		}
		if err != nil {
			if m != nil {
				t.Fatalf("got a message and error %v, want only the error", err)
			}
			if code := events.ErrorCode(err); !isKnownCode(code) {
				t.Fatalf("got code %q (err %v), want one of %v", code, err, allCodes)
			}
			r := events.NewRejection("id", "acme", events.ViaWS, err, data, nil, now)
			b, merr := json.Marshal(r)
			if merr != nil || !json.Valid(b) {
				t.Fatalf("rejection: Marshal got %v, want valid JSON", merr)
			}
			return
		}
		e := events.NewEvent(m, "id", "acme", "sub", now, now)
		b, err := json.Marshal(e)
		if err != nil || !json.Valid(b) {
			t.Fatalf("event: Marshal got %v, want valid JSON", err)
		}
		subject := subjects.For(m)
		want := 4 // agentcall.prod.acme.iframeParams
		if m.Type == events.TypeCallBarEvent {
			want = 5
		}
		if got := len(strings.Split(subject, ".")); got != want {
			t.Fatalf("subject %q: got %d tokens, want %d", subject, got, want)
		}
		if strings.ContainsAny(subject, " \t\r\n*>") {
			t.Fatalf("subject %q: contains a space or a wildcard", subject)
		}
		for _, tok := range strings.Split(subject, ".") {
			if tok == "" {
				t.Fatalf("subject %q: has an empty token", subject)
			}
		}
		if strict && !m.Known {
			t.Fatalf("strict: accepted unknown message ID %q", m.MessageID)
		}
	})
}

// referenceFingerprint is the talk fingerprint computed the slow way, with
// encoding/json: decode into a map, sort the names, compact the values.
func referenceFingerprint(params []byte) events.Digest {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(params, &fields); err != nil {
		return events.Digest{}
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		if k != "sign" && k != "timestamp" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(0)
		if err := json.Compact(&b, fields[k]); err != nil {
			b.Write(fields[k])
		}
		b.WriteByte(0)
	}
	sum := sha256.Sum256(b.Bytes())
	var d events.Digest
	copy(d[:], sum[:16])
	return d
}
