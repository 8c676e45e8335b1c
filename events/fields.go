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

// The known params fields, by index into Message's field spans. The order
// is the order Parse checks their kinds in.
const (
	fPartnerID = iota
	fUID
	fUemail
	fEmail
	fSign
	fTimestamp
	fUphone
	fEncryptUphone
	fGatewayNumber
	fCallType
	fCallIDLower
	fProvince
	fCity
	fStartTime
	fCreationTime
	fCompanyID
	fReferenceID
	fAttachedData
	fCallIDUpper
	fPartyID
	fPartyRole
	fANI
	fDNIS
	fThisDN
	fThisDNRole
	fOtherDN
	fOtherDNRole
	fThirdDN
	fThirdDNRole
	fAgentID
	fAgentUUID
	fFirstQueueUUID
	fFirstQueueID
	fFirstQueueName
	fLastQueueUUID
	fLastQueueID
	fLastQueueName
	fMessageID
	numFields
)

// paramField is one known params field and its kind.
type paramField struct {
	name string
	kind fieldKind
}

// knownFields lists every params field whose type Parse checks, by index.
// Fields not listed (custom params) are never checked; messageID is
// checked on its own.
var knownFields = [numFields]paramField{
	// Talk details (iframeParams).
	fPartnerID:     {"partnerId", kindID},
	fUID:           {"uid", kindID},
	fUemail:        {"uemail", kindText},
	fEmail:         {"email", kindText},
	fSign:          {"sign", kindText},
	fTimestamp:     {"timestamp", kindMillis},
	fUphone:        {"uphone", kindText},
	fEncryptUphone: {"encryptUphone", kindText},
	fGatewayNumber: {"gatewayNumber", kindID},
	fCallType:      {"callType", kindCallType},
	fCallIDLower:   {"callId", kindID},
	fProvince:      {"province", kindText},
	fCity:          {"city", kindText},
	fStartTime:     {"startTime", kindMillis},
	// Call events (callBarEvent).
	fCreationTime: {"creationTime", kindMillis},
	fCompanyID:    {"companyId", kindID},
	fReferenceID:  {"referenceID", kindID},
	fAttachedData: {"attachedData", kindText},
	fCallIDUpper:  {"callID", kindID},
	fPartyID:      {"partyID", kindID},
	fPartyRole:    {"partyRole", kindText},
	fANI:          {"ANI", kindID},
	fDNIS:         {"DNIS", kindID},
	fThisDN:       {"thisDN", kindID},
	fThisDNRole:   {"thisDNRole", kindText},
	fOtherDN:      {"otherDN", kindID},
	fOtherDNRole:  {"otherDNRole", kindText},
	fThirdDN:      {"thirdDN", kindID},
	fThirdDNRole:  {"thirdDNRole", kindText},
	fAgentID:      {"agentID", kindID},
	fAgentUUID:    {"agentUUID", kindID},
	// Queue fields of EventEstablished.
	fFirstQueueUUID: {"firstDistributedQueueUUID", kindID},
	fFirstQueueID:   {"firstDistributedQueueId", kindID},
	fFirstQueueName: {"firstDistributedQueueName", kindText},
	fLastQueueUUID:  {"lastDistributedQueueUUID", kindID},
	fLastQueueID:    {"lastDistributedQueueId", kindID},
	fLastQueueName:  {"lastDistributedQueueName", kindText},
	fMessageID:      {"messageID", 0},
}

// fieldIndex returns the index of the known field named name, -1 for any
// other (custom) field. The switch compiles to a comparison without
// converting name to a string on the heap.
func fieldIndex(name []byte) int {
	switch string(name) {
	case "partnerId":
		return fPartnerID
	case "uid":
		return fUID
	case "uemail":
		return fUemail
	case "email":
		return fEmail
	case "sign":
		return fSign
	case "timestamp":
		return fTimestamp
	case "uphone":
		return fUphone
	case "encryptUphone":
		return fEncryptUphone
	case "gatewayNumber":
		return fGatewayNumber
	case "callType":
		return fCallType
	case "callId":
		return fCallIDLower
	case "province":
		return fProvince
	case "city":
		return fCity
	case "startTime":
		return fStartTime
	case "creationTime":
		return fCreationTime
	case "companyId":
		return fCompanyID
	case "referenceID":
		return fReferenceID
	case "attachedData":
		return fAttachedData
	case "callID":
		return fCallIDUpper
	case "partyID":
		return fPartyID
	case "partyRole":
		return fPartyRole
	case "ANI":
		return fANI
	case "DNIS":
		return fDNIS
	case "thisDN":
		return fThisDN
	case "thisDNRole":
		return fThisDNRole
	case "otherDN":
		return fOtherDN
	case "otherDNRole":
		return fOtherDNRole
	case "thirdDN":
		return fThirdDN
	case "thirdDNRole":
		return fThirdDNRole
	case "agentID":
		return fAgentID
	case "agentUUID":
		return fAgentUUID
	case "firstDistributedQueueUUID":
		return fFirstQueueUUID
	case "firstDistributedQueueId":
		return fFirstQueueID
	case "firstDistributedQueueName":
		return fFirstQueueName
	case "lastDistributedQueueUUID":
		return fLastQueueUUID
	case "lastDistributedQueueId":
		return fLastQueueID
	case "lastDistributedQueueName":
		return fLastQueueName
	case "messageID":
		return fMessageID
	}
	return -1
}

// checkFields returns an EInvalidField *Error for the first known field of
// m's params whose value does not have the expected kind.
func (m *Message) checkFields() error {
	for f := 0; f < fMessageID; f++ {
		raw := m.raw(f)
		if raw == nil || fieldOK(knownFields[f].kind, raw) {
			continue
		}
		return Errorf(EInvalidField, "params.%s must be %s", knownFields[f].name, knownFields[f].kind.want())
	}
	return nil
}

// fieldOK reports whether the raw JSON value has kind k (null always has).
func fieldOK(k fieldKind, raw []byte) bool {
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

// rawStringIs reports whether raw is the JSON string s, without copying it
// (escapes are decoded when there are any).
func rawStringIs(raw []byte, s string) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == s
	}
	v, ok := rawString(raw)
	return ok && v == s
}

// rawString decodes raw when it is a JSON string.
func rawString(raw []byte) (string, bool) {
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

// millisOf returns the value of a checked millis field, 0 when absent or null.
func millisOf(raw []byte) int64 {
	var tmp [24]byte
	n, err := strconv.ParseInt(string(appendText(tmp[:0], raw)), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
