package events

import (
	"encoding/json"
	"math"
	"strings"
)

// Direction is the normalised direction of a call, from params.callType.
type Direction string

// The directions a call can have. iframeParams give callType as 2, 3 or 4;
// callBarEvent talk events give it as Inbound, Outbound, Consult or Internal.
const (
	// DirectionInbound is callType 2, "2" or "Inbound".
	DirectionInbound Direction = "inbound"
	// DirectionOutbound is callType 3, "3" or "Outbound".
	DirectionOutbound Direction = "outbound"
	// DirectionInquiry is callType 4, "4", "Consult" or "Inquiry": the
	// talk-details table calls 4 Inquiry, the call-event reference Consult.
	DirectionInquiry Direction = "inquiry"
	// DirectionInternal is callType "Internal" (call-event reference only).
	DirectionInternal Direction = "internal"
)

// directionNames maps lower-case callType spellings to a Direction.
var directionNames = map[string]Direction{
	"2":        DirectionInbound,
	"inbound":  DirectionInbound,
	"3":        DirectionOutbound,
	"outbound": DirectionOutbound,
	"4":        DirectionInquiry,
	"consult":  DirectionInquiry,
	"inquiry":  DirectionInquiry,
	"internal": DirectionInternal,
}

// ParseDirection returns the Direction of a callType value as decoded by
// encoding/json (float64, json.Number, string) or as a Go integer. Strings
// are matched case-insensitively after trimming surrounding spaces. ok is
// false when v is nil or not recognised.
func ParseDirection(v any) (d Direction, ok bool) {
	var key string
	switch x := v.(type) {
	case string:
		key = strings.ToLower(strings.TrimSpace(x))
	case json.Number:
		key = string(x)
	case float64:
		if x != math.Trunc(x) || x < 0 || x > 9 {
			return "", false
		}
		key = string(rune('0' + int(x)))
	case int:
		key = smallIntKey(int64(x))
	case int32:
		key = smallIntKey(int64(x))
	case int64:
		key = smallIntKey(x)
	default:
		return "", false
	}
	d, ok = directionNames[key]
	return d, ok
}

// smallIntKey returns the decimal form of a one-digit n, or "" otherwise.
func smallIntKey(n int64) string {
	if n < 0 || n > 9 {
		return ""
	}
	return string(rune('0' + n))
}
