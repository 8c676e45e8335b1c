package correlate

import "time"

// Defaults of the memory state's bounds and of the dedup window.
const (
	DefaultCallEndedTTL = 5 * time.Minute
	DefaultCallIdleTTL  = 6 * time.Hour
	DefaultMaxCalls     = 100_000
	DefaultMaxAgents    = 50_000
	DefaultDedupWindow  = 10 * time.Minute
	DefaultDedupMax     = 200_000
)
