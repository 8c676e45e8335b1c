// Package schema holds the JSON Schemas (draft 2020-12) of what callrelay
// publishes: event.schema.json for events.Event on the callBarEvent and
// iframeParams subjects, call.schema.json for events.Call on the call
// subject, and rejected.schema.json for events.Rejection on the rejected
// subject. Subscribers may use them to validate what they
// receive; the tests of this package check real output against them.
//
// Package schema only embeds files: it imports the standard library only
// and has no behaviour of its own.
package schema

import "embed"

// FS holds the schema files, named event.schema.json, call.schema.json and rejected.schema.json.
//
//go:embed *.json
var FS embed.FS

// The names of the schema files in FS.
const (
	EventFile    = "event.schema.json"
	RejectedFile = "rejected.schema.json"
	CallFile     = "call.schema.json"
)
