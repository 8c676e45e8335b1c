package correlate

import "time"

// Defaults of the memory state's bounds and of the dedup window.
const (
	DefaultCallEndedTTL = 5 * time.Minute
	DefaultCallIdleTTL  = 6 * time.Hour
	DefaultMaxCalls     = 100_000
	DefaultMaxAgents    = 50_000
	// DefaultMaxCallBytes bounds the call records' bytes: 64 MiB, a quarter
	// of the chart's memory limit, room for 100,000 calls of 670 bytes or
	// 8,000 with the largest talk details allowed.
	DefaultMaxCallBytes = 64 << 20
	DefaultDedupWindow  = 10 * time.Minute
	DefaultDedupMax     = 200_000
)
