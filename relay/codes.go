package relay

import (
	"net/http"

	"github.com/callrelay/callrelay/events"
)

// Codes a client can see, beyond those of package events. Every code a client
// can receive is listed in codeTable; docs/protocol.md documents the same
// table and a test keeps the two in step.
const (
	// CodeInvalidFrame: the frame is not a JSON object, has an unknown type,
	// or an event frame carries no data.
	CodeInvalidFrame = "invalid_frame"
	// CodeInvalidID: the event id is missing or not a short token.
	CodeInvalidID = "invalid_id"
	// CodeInvalidSeenAt: seenAt is missing or neither RFC 3339 nor ms.
	CodeInvalidSeenAt = "invalid_seen_at"
	// CodeSinkUnavailable: the event could not be published; send it again later.
	CodeSinkUnavailable = "sink_unavailable"
	// CodeDraining: the relay is shutting down; send it again later.
	CodeDraining = "draining"
	// CodeInternal: an unexpected relay error; send it again later.
	CodeInternal = "internal"
	// CodeHeldForOrder: an earlier event of the same connection was answered
	// with retry:true, so this one was not stored ahead of it; send it again
	// after that one.
	CodeHeldForOrder = "held_for_order"
	// CodeInvalidSign: the talk details' Sobot sign does not match, or is
	// missing where signs are required.
	CodeInvalidSign = "invalid_sign"
	// CodeStaleSign: the talk details' timestamp is missing or outside the
	// sign window.
	CodeStaleSign = "stale_sign"
	// CodeTalkTooLarge: the talk details' params exceed the talk limit.
	CodeTalkTooLarge = "talk_too_large"
	// CodeInvalidCreationTime: params.creationTime is too far from the
	// relay's clock.
	CodeInvalidCreationTime = "invalid_creation_time"
	// CodeRateLimited: the connection sent events faster than its rate
	// limit; send it again later.
	CodeRateLimited = "rate_limited"

	// Batch-level codes of POST /v1/events, answered with an HTTP status.
	CodeBatchInvalid     = "batch_invalid"
	CodeBatchTooLarge    = "batch_too_large"
	CodeOriginNotAllowed = "origin_not_allowed"
	CodeUnauthorized     = "unauthorized"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeNotFound         = "not_found"
	CodeNotReady         = "not_ready"
	CodeTooManyConns     = "too_many_connections"
)

// codeInfo says how a code is answered.
type codeInfo struct {
	// retry is the nack's retry flag: true means the client keeps the event
	// and sends it again later.
	retry bool
	// status is the HTTP status of a batch-level error; 0 for event codes.
	status int
	// doc is the one-line meaning, used by docs tests.
	doc string
}

// codeTable is the one table of every code a client can see.
var codeTable = map[string]codeInfo{
	events.ETooLarge:         {doc: "the event's data is larger than the configured limit"},
	events.EInvalidUTF8:      {doc: "the frame or the event's data is not valid UTF-8"},
	events.EInvalidJSON:      {doc: "the event's data is not JSON"},
	events.ENotObject:        {doc: "the event's data is JSON but not an object"},
	events.EInvalidSource:    {doc: "data.source is missing or not \"agentCall\""},
	events.EInvalidType:      {doc: "data.type is not iframeParams or callBarEvent"},
	events.EInvalidParams:    {doc: "data.params is missing or not an object"},
	events.EMissingMessageID: {doc: "a callBarEvent without params.messageID"},
	events.EInvalidMessageID: {doc: "params.messageID is not a string of letters and digits"},
	events.EUnknownMessageID: {doc: "params.messageID is not one of the 14 known IDs (only with --strict-message-ids)"},
	events.EInvalidField:     {doc: "a known params field has the wrong JSON type"},
	CodeInvalidFrame:         {doc: "the frame is not a JSON object with a known type, or an event frame has no data"},
	CodeInvalidID:            {doc: "the event id is missing or not 1-128 characters of A-Z a-z 0-9 . _ : -"},
	CodeInvalidSeenAt:        {doc: "seenAt is missing or neither an RFC 3339 time nor milliseconds since the epoch"},
	CodeInvalidSign:          {doc: "the talk details' Sobot sign does not match (or is missing, with --sobot-sign require)"},
	CodeStaleSign:            {doc: "the talk details' timestamp is missing or further from the relay's clock than --sobot-sign-window (with --sobot-sign require)"},
	CodeTalkTooLarge:         {doc: "the talk details' params are larger than --max-talk-bytes"},
	CodeInvalidCreationTime:  {doc: "params.creationTime is further from the relay's clock than --max-clock-skew"},
	CodeRateLimited:          {retry: true, doc: "the connection sent events faster than --rate-limit (beyond --rate-burst); send it again a little later"},
	CodeSinkUnavailable:      {retry: true, doc: "NATS did not take the event; keep it and send it again"},
	CodeDraining:             {retry: true, doc: "the relay is shutting down; send it again (to another replica)"},
	CodeInternal:             {retry: true, doc: "an unexpected relay error; send it again later"},
	CodeHeldForOrder:         {retry: true, doc: "an earlier event of this connection was answered with retry:true; this one was not stored ahead of it: send it again after that one"},

	CodeBatchInvalid:     {status: http.StatusBadRequest, doc: "the request body is not a JSON object with an events array"},
	CodeBatchTooLarge:    {status: http.StatusRequestEntityTooLarge, doc: "the request body or its event count exceeds the limits"},
	CodeOriginNotAllowed: {status: http.StatusForbidden, doc: "the Origin header is not on the allowlist (or is missing where that is not allowed)"},
	CodeUnauthorized:     {status: http.StatusUnauthorized, doc: "tokens are required and the request's token is missing, expired or invalid"},
	CodeMethodNotAllowed: {status: http.StatusMethodNotAllowed, doc: "the HTTP method is not supported on this path"},
	CodeNotFound:         {status: http.StatusNotFound, doc: "no such path"},
	CodeNotReady:         {status: http.StatusServiceUnavailable, doc: "the relay cannot publish right now (from /readyz)"},
	CodeTooManyConns:     {status: http.StatusServiceUnavailable, doc: "the relay holds --max-connections WebSockets already; connect again later or to another replica"},
}

// retryable reports whether a nack with this code asks the client to retry.
// Unknown codes are treated as retryable so that nothing is dropped by mistake.
func retryable(code string) bool {
	info, ok := codeTable[code]
	return !ok || info.retry
}

// WebSocket close codes used by the relay (RFC 6455 section 7.4.1).
const (
	closeNormal      = 1000
	closeGoingAway   = 1001 // the relay is shutting down
	closeUnsupported = 1003 // a binary frame
	closePolicy      = 1008 // a protocol violation
	closeTooBig      = 1009 // a frame over the read limit
	closeInternalErr = 1011
)
