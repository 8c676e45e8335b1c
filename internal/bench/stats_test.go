package bench

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(i + 1)
	}
	for _, tc := range []struct {
		name   string
		sorted []int64
		q      float64
		want   int64
	}{
		{"empty", nil, 0.5, 0},
		{"one", []int64{7}, 0.999, 7},
		{"median of 1..100", hundred, 0.50, 50},
		{"p99 of 1..100", hundred, 0.99, 99},
		{"p999 of 1..100 is the max", hundred, 0.999, 100},
		{"p50 of two", []int64{1, 9}, 0.5, 1},
		{"p100", hundred, 1, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.q); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	var lat []int64
	for i := 1000; i >= 1; i-- { // unsorted on purpose
		lat = append(lat, int64(i)*int64(time.Millisecond)/10)
	}
	got := summarize(lat)
	if got.p50 != 50 || got.p99 != 99 || got.p999 != 99.9 {
		t.Errorf("got %+v, want 50, 99, 99.9 ms", got)
	}
	if none := summarize(nil); !math.IsNaN(none.p50) {
		t.Errorf("no latencies: got %+v, want NaN", none)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float64
		want float64
	}{
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"NaN ignored", []float64{math.NaN(), 5, 7, 6}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := median(tc.xs); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := median([]float64{math.NaN()}); !math.IsNaN(got) {
		t.Errorf("only NaN: got %v, want NaN", got)
	}
}

// Warm-up events are not counted, late acks are counted but not in time,
// errors are always counted and the first reason is kept.
func TestStatsAck(t *testing.T) {
	t0 := time.Now()
	sp := span{start: t0, measure: t0.Add(time.Second), end: t0.Add(2 * time.Second)}
	var st stats
	st.ack(&sp, t0.Add(500*time.Millisecond), t0.Add(1100*time.Millisecond)) // warm-up
	st.ack(&sp, t0.Add(1500*time.Millisecond), t0.Add(1510*time.Millisecond))
	st.ack(&sp, t0.Add(1900*time.Millisecond), t0.Add(2100*time.Millisecond)) // after the end
	st.fail(2, "nack %s", "sink_unavailable")
	var other stats
	other.fail(1, "later")
	other.ack(&sp, t0.Add(time.Second), t0.Add(time.Second))
	st.merge(&other)
	if st.acked != 3 || st.inTime != 2 || st.errors != 3 || st.firstErr != "nack sink_unavailable" || len(st.lat) != 3 {
		t.Errorf("got %+v", st)
	}
	if st.lat[0] != int64(10*time.Millisecond) || st.lat[1] != int64(200*time.Millisecond) || st.lat[2] != 0 {
		t.Errorf("latencies: got %v", st.lat)
	}
}
