package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"time"
)

// agent is one simulated client of a scenario, connected before the span
// starts. run sends events as the span says, waits for their answers
// (until the span's end plus its grace at most) and records everything
// into st, which it owns while it runs. close releases its connection.
type agent interface {
	run(ctx context.Context, sp *span, st *stats)
	close()
}

// measurement is what drive measured over the span's counted part.
type measurement struct {
	stats
	elapsed time.Duration // from the span's measure to the last answer
	cpu     []time.Duration
	lat     latency
	allocs  float64 // the relay's heap allocations per acked event; NaN unknown
}

// rate is the acked events per second over the counted part.
func (m measurement) rate() float64 {
	if m.elapsed <= 0 {
		return 0
	}
	return float64(m.acked) / m.elapsed.Seconds()
}

// benchCPU is the bench's own CPU per acked event, in microseconds: the
// clients' share of the machine.
func (m measurement) benchCPU() float64 { return m.perEvent(len(m.cpu) - 1) }

// perEvent is the CPU of process i per acked event, in microseconds; NaN
// without acked events.
func (m measurement) perEvent(i int) float64 {
	if m.acked == 0 {
		return math.NaN()
	}
	return float64(m.cpu[i].Nanoseconds()) / 1e3 / float64(m.acked)
}

// drive runs agents over a new span and measures them: the CPU of each of
// pids, and then of the bench itself, between the end of the warm-up and
// the last answer, and the merged stats.
func (e *Env) drive(ctx context.Context, agents []agent, warmup, duration, grace time.Duration, pids ...int) (measurement, error) {
	return e.driveProbed(ctx, agents, warmup, duration, grace, nil, pids...)
}

// driveProbed is drive that also reads mallocs (the relay's count of heap
// allocations) at the start and the end of the measured span, when given.
func (e *Env) driveProbed(ctx context.Context, agents []agent, warmup, duration, grace time.Duration, mallocs func() (uint64, error), pids ...int) (measurement, error) {
	var mallocs0 uint64
	var mallocsErr error
	pids = append(slices.Clone(pids), os.Getpid())
	sp := newSpan(warmup, duration, grace)
	before := make([]cpuSample, len(pids))
	var sampleErr error
	sampled := make(chan struct{})
	time.AfterFunc(time.Until(sp.measure), func() {
		defer close(sampled)
		if mallocs != nil {
			mallocs0, mallocsErr = mallocs()
		}
		for i, pid := range pids {
			if before[i], sampleErr = e.proc.cpu(pid); sampleErr != nil {
				return
			}
		}
	})
	all := make([]stats, len(agents))
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Go(func() { a.run(ctx, &sp, &all[i]) })
	}
	wg.Wait()
	<-sampled
	finished := time.Now()
	m := measurement{elapsed: finished.Sub(sp.measure), cpu: make([]time.Duration, len(pids)), allocs: math.NaN()}
	var mallocs1 uint64
	if mallocs != nil && mallocsErr == nil {
		mallocs1, mallocsErr = mallocs()
	}
	for i, pid := range pids {
		after, err := e.proc.cpu(pid)
		if err = firstError(sampleErr, err); err != nil {
			return m, fmt.Errorf("measure cpu: %w", err)
		}
		m.cpu[i] = after.used(before[i], e.proc.tick)
	}
	for i := range all {
		m.merge(&all[i])
	}
	m.lat = summarize(m.stats.lat)
	if mallocs != nil && mallocsErr == nil && m.acked > 0 && mallocs1 >= mallocs0 {
		m.allocs = float64(mallocs1-mallocs0) / float64(m.acked)
	}
	return m, ctx.Err()
}

// firstError returns the first non-nil error.
func firstError(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// connectAll makes n agents with dial, concurrently (at most 16 dials at a
// time), and closes those made if one fails.
func connectAll(ctx context.Context, n int, dial func(ctx context.Context, i int) (agent, error)) ([]agent, error) {
	out := make([]agent, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i], errs[i] = dial(ctx, i)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("connect agent %d: %w", i, err)
		}
	}
	return out, nil
}

// closeAll closes every agent that is not nil.
func closeAll(agents []agent) {
	for _, a := range agents {
		if a != nil {
			a.close()
		}
	}
}
