package events_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callrelay/callrelay/events"
)

// fixture is one file of testdata/valid or testdata/invalid.
type fixture struct {
	name string // file name without .json
	code string // the expected error code, "" for valid fixtures
	data []byte
}

// MustReadFile returns the contents of a file under testdata.
func MustReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// MustFixtures returns the fixtures of testdata/<dir>; invalid fixtures are
// named <code>__<what>.json.
func MustFixtures(tb testing.TB, dir string) []fixture {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatalf("no fixtures in testdata/%s", dir)
	}
	var fs []fixture
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		f := fixture{name: name, data: data}
		if dir == "invalid" {
			code, _, ok := strings.Cut(name, "__")
			if !ok {
				tb.Fatalf("invalid fixture %s is not named <code>__<what>.json", p)
			}
			f.code = code
		}
		fs = append(fs, f)
	}
	return fs
}

// MustParse parses data with default options and fails tb on error.
func MustParse(tb testing.TB, data string) *events.Message {
	tb.Helper()
	m, err := events.Parse([]byte(data), events.Options{})
	if err != nil {
		tb.Fatalf("Parse: got error %v, want nil", err)
	}
	return m
}

// callBar returns a callBarEvent message whose params members are the
// given JSON text (without braces).
func callBar(members string) string {
	return `{"source":"agentCall","type":"callBarEvent","params":{` + members + `}}`
}

// iframe returns an iframeParams message whose params members are the
// given JSON text (without braces).
func iframe(members string) string {
	return `{"source":"agentCall","type":"iframeParams","params":{` + members + `}}`
}

// allCodes lists every code Parse may return.
var allCodes = []string{
	events.ETooLarge, events.EInvalidUTF8, events.EInvalidJSON, events.ENotObject,
	events.EInvalidSource, events.EInvalidType, events.EInvalidParams,
	events.EMissingMessageID, events.EInvalidMessageID, events.EUnknownMessageID,
	events.EInvalidField,
}

// isKnownCode reports whether code is in allCodes.
func isKnownCode(code string) bool {
	for _, c := range allCodes {
		if c == code {
			return true
		}
	}
	return false
}
