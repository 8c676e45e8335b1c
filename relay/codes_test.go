package relay

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// docs/protocol.md documents every code of codeTable, with the right retry
// flag and HTTP status, and no code that does not exist.
func TestProtocolDocListsEveryCode(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := regexp.MustCompile(`(?m)^##+ `).Split(string(doc), -1)
	section := func(title string) string {
		for _, s := range sections {
			if regexp.MustCompile(`^` + regexp.QuoteMeta(title)).MatchString(s) {
				return s
			}
		}
		t.Fatalf("docs/protocol.md has no section %q", title)
		return ""
	}
	noRetry := section("Event codes, `retry: false`")
	retry := section("Event codes, `retry: true`")
	httpCodes := section("HTTP codes")
	row := regexp.MustCompile("(?m)^\\| `([a-z_0-9]+)` \\|(?: ([0-9]{3}) \\|)?")

	documented := map[string]bool{}
	for _, s := range []struct {
		text  string
		retry bool
		http  bool
	}{{noRetry, false, false}, {retry, true, false}, {httpCodes, false, true}} {
		for _, m := range row.FindAllStringSubmatch(s.text, -1) {
			code := m[1]
			documented[code] = true
			info, ok := codeTable[code]
			if !ok {
				t.Errorf("docs/protocol.md documents %q, which the relay does not have", code)
				continue
			}
			if s.http {
				if m[2] == "" || m[2] != strconv.Itoa(info.status) {
					t.Errorf("%s: documented status %q, code table says %d", code, m[2], info.status)
				}
				continue
			}
			if info.status != 0 || info.retry != s.retry {
				t.Errorf("%s: documented as retry=%v, code table says retry=%v status=%d", code, s.retry, info.retry, info.status)
			}
		}
	}
	for code := range codeTable {
		if !documented[code] {
			t.Errorf("code %q is missing from docs/protocol.md", code)
		}
	}
}
