package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// span is the timeline of one measured run. Events sent (or, in the open
// loop, scheduled) before measure are warm-up: they are sent and answered
// but not counted, except their errors. Sending stops at end; answers are
// awaited until end+grace at most.
type span struct {
	start, measure, end time.Time
	grace               time.Duration
}

// newSpan starts a span now.
func newSpan(warmup, duration, grace time.Duration) span {
	now := time.Now()
	return span{start: now, measure: now.Add(warmup), end: now.Add(warmup + duration), grace: grace}
}

// measured reports whether an event sent or scheduled at t is counted.
func (s span) measured(t time.Time) bool { return !t.Before(s.measure) }

// stats is what the agents of a scenario record. Each goroutine records into
// its own stats; merge adds them up at the end.
type stats struct {
	lat      []int64 // send-to-ack latency of each measured acked event, ns
	sent     int     // measured events sent (open loop: scheduled)
	acked    int     // measured events acked as published
	inTime   int     // of those, acked before the span's end
	capHits  int     // measured events that waited because the agent's window was full
	late     int     // open loop: events still unanswered when the grace ended
	errors   int     // nacks, unexpected statuses, missing answers, failures, warm-up included
	firstErr string
}

// ack records the answer "published" to an event sent at sentAt and
// answered at ackAt.
func (s *stats) ack(sp *span, sentAt, ackAt time.Time) {
	if !sp.measured(sentAt) {
		return
	}
	s.acked++
	s.lat = append(s.lat, int64(ackAt.Sub(sentAt)))
	if !ackAt.After(sp.end) {
		s.inTime++
	}
}

// fail records n events that were not published, and keeps the first reason.
func (s *stats) fail(n int, format string, args ...any) {
	if n <= 0 {
		return
	}
	s.errors += n
	if s.firstErr == "" {
		s.firstErr = fmt.Sprintf(format, args...)
	}
}

// merge adds o to s.
func (s *stats) merge(o *stats) {
	s.lat = append(s.lat, o.lat...)
	s.sent += o.sent
	s.acked += o.acked
	s.inTime += o.inTime
	s.capHits += o.capHits
	s.late += o.late
	if o.errors > 0 {
		s.fail(o.errors, "%s", o.firstErr)
	}
}

// latency is a summary of latencies, in milliseconds.
type latency struct {
	p50, p99, p999 float64
}

// summarize sorts lat (nanoseconds) and returns its percentiles; NaN when
// there is none.
func summarize(lat []int64) latency {
	slices.Sort(lat)
	ms := func(q float64) float64 {
		if len(lat) == 0 {
			return math.NaN()
		}
		return float64(percentile(lat, q)) / 1e6
	}
	return latency{p50: ms(0.50), p99: ms(0.99), p999: ms(0.999)}
}

// percentile returns the nearest-rank q-quantile of sorted (0 < q <= 1): the
// smallest value that at least q of the values are at or below.
func percentile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// median returns the median of xs, ignoring NaNs; NaN when none is left.
func median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// note keeps reason as the first error reason if there is none yet, without
// counting an error: the events it concerns are counted where they end.
func (s *stats) note(format string, args ...any) {
	if s.firstErr == "" {
		s.firstErr = fmt.Sprintf(format, args...)
	}
}

// missing records n events left without an answer: errors, unless late says
// the open loop's grace has passed, where unanswered events are a result
// (they show as not all acked) rather than a failure.
func (s *stats) missing(n int, late bool, format string, args ...any) {
	if !late {
		s.fail(n, format, args...)
		return
	}
	s.late += n
	s.note(format, args...)
}
