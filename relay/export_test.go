package relay

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/events"
)

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

// SetMemoryStateClock replaces s's clock (also used for the records'
// Updated times of a relay built on s). Call it before s is shared.
func SetMemoryStateClock(s *MemoryState, now func() time.Time) { s.now = now }

// TestCorrelator runs the correlation of events against a State without a
// relay around it, publishing nothing: the correlation step alone, for
// benchmarks.
type TestCorrelator struct{ c *correlator }

// NewTestCorrelator returns a TestCorrelator over st (nil: a MemoryState
// bounded by cfg) with its metrics on reg.
func NewTestCorrelator(cfg Config, st State, reg prometheus.Registerer) (*TestCorrelator, error) {
	m, err := newMetrics(reg, "test", func() bool { return true })
	if err != nil {
		return nil, err
	}
	return &TestCorrelator{c: newStateCorrelator(cfg.withDefaults(), st, m)}, nil
}

// Step correlates one message as the pipeline does around a successful
// publish, and returns the duplicate kind ("content", "repeat") or "".
func (t *TestCorrelator) Step(ctx context.Context, msg *events.Message, id string, seenAt time.Time) (string, error) {
	ev := events.NewEvent(msg, id, t.c.tenant, "", seenAt, seenAt)
	st, dup, err := t.c.begin(ctx, msg, ev, "", seenAt)
	if err != nil || dup != "" {
		return dup, err
	}
	return "", st.finish(ctx, func(*events.Call, string) error { return nil }, zerolog.Nop())
}

// Mirror returns the MemoryState the correlator counts its gauges from.
func (t *TestCorrelator) Mirror() *MemoryState { return t.c.mirror }
