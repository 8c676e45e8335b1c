package relay

import "time"

// Unexported functions exposed to the external test package relay_test.
var (
	ParseID     = parseID
	ParseSeenAt = parseSeenAt
	Nack        = nack
	Retryable   = retryable
)

// SetDedupClock replaces d's clock. Call it before d is shared with other
// goroutines.
func SetDedupClock(d *Dedup, now func() time.Time) { d.now = now }

// SetDedupEvicted sets the hook d calls (under its lock) for each id evicted
// by the cap. Call it before d is shared with other goroutines.
func SetDedupEvicted(d *Dedup, f func()) { d.evicted = f }
