package relay

// Unexported functions exposed to the external test package relay_test.
var (
	ParseID     = parseID
	ParseSeenAt = parseSeenAt
	Nack        = nack
	Retryable   = retryable
)
