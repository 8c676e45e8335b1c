package schema_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/callrelay/callrelay/events"
	"github.com/callrelay/callrelay/events/schema"
)

var (
	seenAt     = time.Date(2024, 11, 21, 10, 0, 0, 123_000_000, time.FixedZone("CST", 8*3600))
	receivedAt = time.Date(2024, 11, 21, 2, 0, 0, 456_789_000, time.UTC)
)

// MustCompile compiles the embedded schema file name with format assertions on.
func MustCompile(tb testing.TB, name string) *jsonschema.Schema {
	tb.Helper()
	f, err := schema.FS.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		tb.Fatal(err)
	}
	sch, err := c.Compile(name)
	if err != nil {
		tb.Fatalf("compile %s: %v", name, err)
	}
	return sch
}

// validate validates the JSON encoding of v against sch.
func validate(tb testing.TB, sch *jsonschema.Schema, v any) error {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	return sch.Validate(inst)
}

// MustFixtures returns the fixture files of ../testdata/<dir> by base name.
func MustFixtures(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "testdata", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures in ../testdata/%s (%v)", dir, err)
	}
	fs := make(map[string][]byte, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		fs[strings.TrimSuffix(filepath.Base(p), ".json")] = data
	}
	return fs
}

func TestEventsMatchSchema(t *testing.T) {
	sch := MustCompile(t, schema.EventFile)
	for name, data := range MustFixtures(t, "valid") {
		t.Run(name, func(t *testing.T) {
			m, err := events.Parse(data, events.Options{})
			if err != nil {
				t.Fatalf("Parse: got %v, want nil", err)
			}
			for _, subject := range []string{"", "agent-1001"} {
				e := events.NewEvent(m, "01JDAXV9Q3K7Z2W8N5M4T6R1PB", "acme", subject, seenAt, receivedAt)
				if err := validate(t, sch, e); err != nil {
					t.Errorf("subject %q: got %v, want valid", subject, err)
				}
			}
		})
	}
}

func TestRejectionsMatchSchema(t *testing.T) {
	sch := MustCompile(t, schema.RejectedFile)
	huge := []byte(`{"source":"agentCall","pad":"` + strings.Repeat("x", events.DefaultMaxBytes) + `"}`)
	fixtures := MustFixtures(t, "invalid")
	fixtures["too_large__generated"] = huge
	for name, data := range fixtures {
		t.Run(name, func(t *testing.T) {
			_, err := events.Parse(data, events.Options{})
			if err == nil {
				t.Fatalf("Parse: got nil error, want one")
			}
			seen := seenAt
			for _, r := range []*events.Rejection{
				events.NewRejection("01JDAXV9Q3K7Z2W8N5M4T6R1PB", "acme", events.ViaWS, err, data, &seen, receivedAt),
				events.NewRejection("", "acme", events.ViaHTTP, err, data, nil, receivedAt),
			} {
				if err := validate(t, sch, r); err != nil {
					t.Errorf("got %v, want valid", err)
				}
			}
		})
	}
}

// TestSchemasReject checks that the schemas can fail, so the tests above mean something.
func TestSchemasReject(t *testing.T) {
	event := MustCompile(t, schema.EventFile)
	rejected := MustCompile(t, schema.RejectedFile)
	valid := map[string]any{
		"id": "x", "tenant": "acme", "type": "callBarEvent", "messageID": "EventRinging",
		"seenAt": "2024-11-21T02:00:00Z", "receivedAt": "2024-11-21T02:00:00Z", "params": map[string]any{},
	}
	tests := []struct {
		name   string
		schema *jsonschema.Schema
		change func(map[string]any)
		valid  bool
	}{
		{"event as is", event, func(map[string]any) {}, true},
		{"event without id", event, func(v map[string]any) { delete(v, "id") }, false},
		{"event with unknown field", event, func(v map[string]any) { v["extra"] = 1 }, false},
		{"callBarEvent without messageID", event, func(v map[string]any) { delete(v, "messageID") }, false},
		{"iframeParams with messageID", event, func(v map[string]any) { v["type"] = "iframeParams" }, false},
		{"bad date-time", event, func(v map[string]any) { v["seenAt"] = "21/11/2024" }, false},
		{"params not an object", event, func(v map[string]any) { v["params"] = "x" }, false},
		{"bad direction", event, func(v map[string]any) { v["direction"] = "sideways" }, false},
		{"rejection without code", rejected, func(v map[string]any) {
			for k := range v {
				delete(v, k)
			}
			v["tenant"], v["message"], v["via"], v["receivedAt"] = "acme", "m", "ws", "2024-11-21T02:00:00Z"
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := make(map[string]any, len(valid))
			for k, x := range valid {
				v[k] = x
			}
			tt.change(v)
			err := validate(t, tt.schema, v)
			if (err == nil) != tt.valid {
				t.Errorf("got error %v, want valid=%v", err, tt.valid)
			}
		})
	}
}
