package relay_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/relay"
)

// jsonString returns s as a JSON string literal.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestParseID(t *testing.T) {
	max := strings.Repeat("a", 128)
	over := strings.Repeat("a", 129)
	huge := strings.Repeat("a", 10_000)
	tests := []struct {
		name     string
		raw      string // "" means the field is missing
		wantID   string
		wantEcho string
		wantOK   bool
	}{
		{"uuid", `"0b6e4c9a-3f2d-4c1e-9a7b-5d8e2f1a0c3b"`, "0b6e4c9a-3f2d-4c1e-9a7b-5d8e2f1a0c3b", "0b6e4c9a-3f2d-4c1e-9a7b-5d8e2f1a0c3b", true},
		{"every allowed character", `"AZaz09._:-"`, "AZaz09._:-", "AZaz09._:-", true},
		{"one character", `"x"`, "x", "x", true},
		{"128 characters", jsonString(max), max, max, true},
		{"escaped but valid", `"\u0061bc"`, "abc", "abc", true},
		{"surrounding whitespace", " \"abc\"\n", "abc", "abc", true},

		{"129 characters", jsonString(over), "", over, false},
		{"very long string is not echoed", jsonString(huge), "", "", false},
		{"empty string", `""`, "", "", false},
		{"missing", "", "", "", false},
		{"null", `null`, "", "", false},
		{"number", `123`, "", "", false},
		{"boolean", `true`, "", "", false},
		{"object", `{"id":"abc"}`, "", "", false},
		{"array", `["abc"]`, "", "", false},
		{"not JSON", `abc`, "", "", false},
		{"space inside", `"a b"`, "", "a b", false},
		{"leading space", `" abc"`, "", " abc", false},
		{"trailing newline", `"abc\n"`, "", "abc\n", false},
		{"NUL", `"a\u0000b"`, "", "a\x00b", false},
		{"unicode letter", `"événement"`, "", "événement", false},
		{"unicode escape", `"\u0438\u0434"`, "", "ид", false},
		{"emoji", `"😀"`, "", "😀", false},
		{"slash", `"a/b"`, "", "a/b", false},
		{"NATS wildcards", `"a.*.>"`, "", "a.*.>", false},
		{"plus", `"a+b"`, "", "a+b", false},
		{"quote", `"a\"b"`, "", `a"b`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw json.RawMessage
			if tt.raw != "" {
				raw = json.RawMessage(tt.raw)
			}
			id, echo, ok := relay.ParseID(raw)
			if id != tt.wantID || echo != tt.wantEcho || ok != tt.wantOK {
				t.Errorf("ParseID(%.40s): got (%.40q, %.40q, %v), want (%.40q, %.40q, %v)", tt.raw, id, echo, ok, tt.wantID, tt.wantEcho, tt.wantOK)
			}
		})
	}
}

func TestParseSeenAt(t *testing.T) {
	want := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		raw    string // "" means the field is missing
		want   time.Time
		wantOK bool
	}{
		{"RFC 3339 UTC", `"2026-11-21T09:30:00Z"`, want, true},
		{"RFC 3339 with offset", `"2026-11-21T17:30:00+08:00"`, want, true},
		{"RFC 3339 with negative offset", `"2026-11-21T04:30:00-05:00"`, want, true},
		{"RFC 3339 with milliseconds", `"2026-11-21T09:30:00.123Z"`, want.Add(123 * time.Millisecond), true},
		{"RFC 3339 with nanoseconds", `"2026-11-21T09:30:00.123456789+01:00"`, want.Add(-time.Hour + 123456789*time.Nanosecond), true},
		{"milliseconds", `1795253400123`, time.UnixMilli(1795253400123).UTC(), true},
		{"milliseconds with whitespace", " 1795253400123\n", time.UnixMilli(1795253400123).UTC(), true},
		{"epoch", `0`, time.UnixMilli(0).UTC(), true},

		{"negative milliseconds", `-1`, time.Time{}, false},
		{"fractional milliseconds", `1795253400123.5`, time.Time{}, false},
		{"exponent", `1.795e12`, time.Time{}, false},
		{"milliseconds as a string", `"1795253400123"`, time.Time{}, false},
		{"overflowing integer", `99999999999999999999`, time.Time{}, false},
		{"garbage string", `"yesterday"`, time.Time{}, false},
		{"empty string", `""`, time.Time{}, false},
		{"no time zone", `"2026-11-21T09:30:00"`, time.Time{}, false},
		{"space instead of T", `"2026-11-21 09:30:00Z"`, time.Time{}, false},
		{"date only", `"2026-11-21"`, time.Time{}, false},
		{"invalid month", `"2026-13-21T09:30:00Z"`, time.Time{}, false},
		{"unterminated string", `"2026-11-21T09:30:00Z`, time.Time{}, false},
		{"null", `null`, time.Time{}, false},
		{"missing", "", time.Time{}, false},
		{"boolean", `true`, time.Time{}, false},
		{"object", `{}`, time.Time{}, false},
		{"array", `[1795253400123]`, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw json.RawMessage
			if tt.raw != "" {
				raw = json.RawMessage(tt.raw)
			}
			got, ok := relay.ParseSeenAt(raw)
			if ok != tt.wantOK {
				t.Fatalf("ParseSeenAt(%s): got ok %v (time %v), want %v", tt.raw, ok, got, tt.wantOK)
			}
			if !ok {
				return
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseSeenAt(%s): got %v, want %v", tt.raw, got, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("ParseSeenAt(%s): got location %v, want UTC", tt.raw, got.Location())
			}
		})
	}
}

func TestResultMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		r    relay.Result
		want string
	}{
		{"ack published", relay.Result{ID: "evt-1", Status: relay.StatusPublished},
			`{"type":"ack","id":"evt-1","status":"published"}`},
		{"ack duplicate", relay.Result{ID: "evt-1", Status: relay.StatusDuplicate},
			`{"type":"ack","id":"evt-1","status":"duplicate"}`},
		{"ack ignores nack fields", relay.Result{ID: "evt-1", Status: relay.StatusPublished, Message: "ignored", Retry: true},
			`{"type":"ack","id":"evt-1","status":"published"}`},
		{"nack retryable", relay.Result{ID: "evt-1", Code: relay.CodeSinkUnavailable, Message: "try again later", Retry: true},
			`{"type":"nack","id":"evt-1","code":"sink_unavailable","message":"try again later","retry":true}`},
		{"nack final keeps retry false", relay.Result{ID: "evt-1", Code: events.EInvalidSource, Message: "bad source"},
			`{"type":"nack","id":"evt-1","code":"invalid_source","message":"bad source","retry":false}`},
		{"nack without id", relay.Result{Code: relay.CodeInvalidID, Message: "id is missing"},
			`{"type":"nack","code":"invalid_id","message":"id is missing","retry":false}`},
		{"nack ignores status", relay.Result{ID: "evt-1", Status: relay.StatusPublished, Code: relay.CodeInternal, Message: "oops", Retry: true},
			`{"type":"nack","id":"evt-1","code":"internal","message":"oops","retry":true}`},
		{"nack with empty message", relay.Result{ID: "evt-1", Code: relay.CodeDraining, Retry: true},
			`{"type":"nack","id":"evt-1","code":"draining","message":"","retry":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.r)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal(%+v): got %s, want %s", tt.r, got, tt.want)
			}
			// A pointer and an element of a slice marshal the same way.
			got, err = json.Marshal([]*relay.Result{&tt.r})
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != "["+tt.want+"]" {
				t.Errorf("Marshal([]*Result): got %s, want [%s]", got, tt.want)
			}
		})
	}
}

func TestResultAcked(t *testing.T) {
	tests := []struct {
		r    relay.Result
		want bool
	}{
		{relay.Result{ID: "evt-1", Status: relay.StatusPublished}, true},
		{relay.Result{ID: "evt-1", Status: relay.StatusDuplicate}, true},
		{relay.Result{ID: "evt-1", Code: relay.CodeInternal}, false},
		{relay.Result{Code: relay.CodeInvalidID}, false},
	}
	for _, tt := range tests {
		if got := tt.r.Acked(); got != tt.want {
			t.Errorf("%+v.Acked(): got %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestNack(t *testing.T) {
	tests := []struct {
		code      string
		wantRetry bool
	}{
		{relay.CodeSinkUnavailable, true},
		{relay.CodeDraining, true},
		{relay.CodeInternal, true},
		{events.EInvalidSource, false},
		{events.ETooLarge, false},
		{events.EInvalidJSON, false},
		{events.EUnknownMessageID, false},
		{relay.CodeInvalidFrame, false},
		{relay.CodeInvalidID, false},
		{relay.CodeInvalidSeenAt, false},
		{"no_such_code", true},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got := relay.Nack("evt-1", tt.code, "what went wrong")
			want := relay.Result{ID: "evt-1", Code: tt.code, Message: "what went wrong", Retry: tt.wantRetry}
			if got != want {
				t.Errorf("nack(%q): got %+v, want %+v", tt.code, got, want)
			}
			if got.Acked() {
				t.Errorf("nack(%q).Acked(): got true, want false", tt.code)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{relay.CodeSinkUnavailable, true},
		{relay.CodeDraining, true},
		{relay.CodeInternal, true},
		{events.EInvalidSource, false},
		{events.EInvalidUTF8, false},
		{events.EInvalidField, false},
		{relay.CodeInvalidFrame, false},
		{relay.CodeInvalidSeenAt, false},
		// Unknown codes are retried so that nothing is dropped by mistake.
		{"no_such_code", true},
		{"", true},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := relay.Retryable(tt.code); got != tt.want {
				t.Errorf("retryable(%q): got %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{`"evt-1"`, `""`, `null`, `123`, `"a/b"`, `"` + strings.Repeat("a", 129) + `"`, `"événement"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		id, echo, ok := relay.ParseID(raw)
		if !ok {
			if id != "" {
				t.Fatalf("ParseID(%q): got id %q with ok false, want \"\"", raw, id)
			}
			if len(echo) > 4*128 || !utf8.ValidString(echo) {
				t.Fatalf("ParseID(%q): got echo %q, want short valid UTF-8", raw, echo)
			}
			return
		}
		if id != echo || len(id) < 1 || len(id) > 128 {
			t.Fatalf("ParseID(%q): got (%q, %q, true), want an id of 1 to 128 characters equal to its echo", raw, id, echo)
		}
		for _, c := range []byte(id) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._:-", c) >= 0) {
				t.Fatalf("ParseID(%q): got id %q with byte %q, want only A-Z a-z 0-9 . _ : -", raw, id, c)
			}
		}
	})
}

func FuzzParseSeenAt(f *testing.F) {
	for _, s := range []string{`"2026-11-21T09:30:00Z"`, `"2026-11-21T17:30:00.5+08:00"`, `1795253400123`, `-1`, `null`, `""`, `1.5`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := relay.ParseSeenAt(raw)
		if ok && got.Location() != time.UTC {
			t.Fatalf("ParseSeenAt(%q): got location %v, want UTC", raw, got.Location())
		}
	})
}
