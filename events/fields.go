package events

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// fieldKind is the JSON shape a known params field must have when present.
type fieldKind uint8

const (
	// kindText is a JSON string.
	kindText fieldKind = iota + 1
	// kindID is a JSON string or an integer JSON number.
	kindID
	// kindMillis is a non-negative integer JSON number or a string of digits.
	kindMillis
	// kindCallType is an integer JSON number or any JSON string.
	kindCallType
)

// want describes what a field of kind k must be, for error messages.
func (k fieldKind) want() string {
	switch k {
	case kindText:
		return "a string or null"
	case kindID:
		return "a string, an integer or null"
	case kindMillis:
		return "a non-negative integer of milliseconds, a string of digits or null"
	case kindCallType:
		return "an integer, a string or null"
	}
	return "null"
}

// paramField is one known params field and its kind.
type paramField struct {
	name string
	kind fieldKind
}

// knownFields lists every params field whose type Parse checks, in the
// order they are checked. Fields not listed (custom params) are never checked.
var knownFields = [...]paramField{
	// Talk details (iframeParams).
	{"partnerId", kindID},
	{"uid", kindID},
	{"uemail", kindText},
	{"email", kindText},
	{"sign", kindText},
	{"timestamp", kindMillis},
	{"uphone", kindText},
	{"encryptUphone", kindText},
	{"gatewayNumber", kindID},
	{"callType", kindCallType},
	{"callId", kindID},
	{"province", kindText},
	{"city", kindText},
	{"startTime", kindMillis},
	// Call events (callBarEvent).
	{"creationTime", kindMillis},
	{"companyId", kindID},
	{"referenceID", kindID},
	{"attachedData", kindText},
	{"callID", kindID},
	{"partyID", kindID},
	{"partyRole", kindText},
	{"ANI", kindID},
	{"DNIS", kindID},
	{"thisDN", kindID},
	{"thisDNRole", kindText},
	{"otherDN", kindID},
	{"otherDNRole", kindText},
	{"thirdDN", kindID},
	{"thirdDNRole", kindText},
	{"agentID", kindID},
	{"agentUUID", kindID},
	// Queue fields of EventEstablished.
	{"firstDistributedQueueUUID", kindID},
	{"firstDistributedQueueId", kindID},
	{"firstDistributedQueueName", kindText},
	{"lastDistributedQueueUUID", kindID},
	{"lastDistributedQueueId", kindID},
	{"lastDistributedQueueName", kindText},
}

// checkFields returns an EInvalidField *Error for the first known field of
// params whose value does not have the expected kind.
func checkFields(params map[string]json.RawMessage) error {
	for _, f := range knownFields {
		raw, ok := params[f.name]
		if !ok || fieldOK(f.kind, raw) {
			continue
		}
		return Errorf(EInvalidField, "params.%s must be %s", f.name, f.kind.want())
	}
	return nil
}

// fieldOK reports whether the raw JSON value has kind k (null always has).
func fieldOK(k fieldKind, raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case 'n':
		return true
	case '"':
		if k == kindMillis {
			s, ok := rawString(raw)
			return ok && isDigits(s) && fitsInt64(s)
		}
		return true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		switch k {
		case kindID, kindCallType:
			return isIntegerLiteral(raw)
		case kindMillis:
			return raw[0] != '-' && isIntegerLiteral(raw) && fitsInt64(string(raw))
		}
	}
	return false
}

// isIntegerLiteral reports whether raw is a JSON number written without a
// fraction or an exponent.
func isIntegerLiteral(raw []byte) bool {
	if len(raw) > 0 && raw[0] == '-' {
		raw = raw[1:]
	}
	return isDigits(string(raw))
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fitsInt64 reports whether the digits s fit in an int64.
func fitsInt64(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// rawString decodes raw when it is a JSON string.
func rawString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	// A plain string without escapes needs no decoder.
	if bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// textOf returns the value of a checked text or id field as a string:
// strings as decoded, integers as their decimal form, "" otherwise.
func textOf(params map[string]json.RawMessage, name string) string {
	raw, ok := params[name]
	if !ok || len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		s, _ := rawString(raw)
		return s
	}
	if isIntegerLiteral(raw) {
		if string(raw) == "-0" {
			return "0"
		}
		return string(raw)
	}
	return ""
}

// millisOf returns the value of a checked millis field, 0 when absent or null.
func millisOf(params map[string]json.RawMessage, name string) int64 {
	s := textOf(params, name)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
