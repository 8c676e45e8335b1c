package relay

import (
	"time"

	"github.com/callrelay/callrelay/events"
)

// The CloudEvents attributes of published messages (DESIGN §5; the values
// are listed in README's "Subjects" section). A type is the reverse-DNS
// prefix followed by what the subject says after <prefix>.<tenant>, so
// that it does not change with the configured prefix or tenant.
const (
	ceTypePrefix       = "com.sobot.agentcall."
	ceTypeIframeParams = ceTypePrefix + events.TypeIframeParams
	ceTypeCall         = ceTypePrefix + "call"
	ceTypeRejected     = ceTypePrefix + "rejected"
)

// ceTypeCallBar returns the CloudEvents type of a phone-bar event.
func ceTypeCallBar(messageID string) string {
	return ceTypePrefix + events.TypeCallBarEvent + "." + messageID
}

// ceSource returns the CloudEvents source of every message of one relay
// configuration: a URI reference naming the relay, its subject prefix and
// the tenant, e.g. "/callrelay/agentcall/default". With the event id it
// makes every message's (source, id) pair unique, as the spec asks.
func ceSource(s events.Subjects) string {
	return "/callrelay/" + s.Prefix + "/" + s.Tenant
}

// ceTime formats t as the CloudEvents time: RFC 3339 in UTC, with as many
// fractional digits as it needs.
func ceTime(t time.Time) string {
	var buf [40]byte
	return string(t.UTC().AppendFormat(buf[:0], time.RFC3339Nano))
}
