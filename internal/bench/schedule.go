package bench

import (
	"context"
	"time"
)

// schedule says when an agent sends its k-th event. Closed loop (interval
// 0) it is "now", until the span's end. Open loop it is phase + k*interval
// from the span's start, whatever happened to earlier events, so that an
// event's latency counts from when it should have been sent and a slow
// answer cannot hold later sends back unnoticed (no coordinated omission).
type schedule struct {
	sp       *span
	interval time.Duration
	phase    time.Duration
}

// open reports whether the schedule is open loop.
func (s schedule) open() bool { return s.interval > 0 }

// wait returns when event k is due, after sleeping until then, and false
// when no more events are to be sent: the span has ended, ctx has, or the
// agent fell more than the span's grace behind its schedule (see leftOver).
func (s schedule) wait(ctx context.Context, k int) (time.Time, bool) {
	if ctx.Err() != nil {
		return time.Time{}, false
	}
	if !s.open() {
		now := time.Now()
		return now, now.Before(s.sp.end)
	}
	at := s.at(k)
	if !at.Before(s.sp.end) || time.Now().After(s.sp.end.Add(s.sp.grace)) {
		return at, false
	}
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return at, false
		}
	}
	return at, true
}

// at is when event k is due in the open loop.
func (s schedule) at(k int) time.Time {
	return s.sp.start.Add(s.phase + time.Duration(k)*s.interval)
}

// leftOver counts the measured events from k on that were due before the
// span's end but will not be sent, because the agent stopped early. They
// count as sent, so that they show as not acked.
func (s schedule) leftOver(k int) int {
	if !s.open() {
		return 0
	}
	n := 0
	for at := s.at(k); at.Before(s.sp.end); at = at.Add(s.interval) {
		if s.sp.measured(at) {
			n++
		}
	}
	return n
}
