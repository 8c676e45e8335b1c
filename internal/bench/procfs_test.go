package bench

import (
	"encoding/binary"
	"os"
	"strconv"
	"testing"
	"time"
)

// The fixture's process 4242 has a command name with spaces and
// parentheses, utime 1234 and stime 567 ticks, two threads that ran 12s and
// 6.012345678s, and 32768 kB resident.
func TestProcFSFixture(t *testing.T) {
	p := procFS{root: "testdata/proc", tick: 10 * time.Millisecond}
	got, err := p.cpu(4242)
	if err != nil {
		t.Fatal(err)
	}
	want := cpuSample{sched: 18012345678 * time.Nanosecond, ticks: 1801 * 10 * time.Millisecond}
	if got != want {
		t.Errorf("cpu: got %+v, want %+v", got, want)
	}
	rss, err := p.rss(4242)
	if err != nil || rss != 32768*1024 {
		t.Errorf("rss: got %d, %v, want %d", rss, err, 32768*1024)
	}
	if _, err := p.cpu(1); err == nil {
		t.Error("cpu of a missing process: got no error")
	}
}

func TestParseStatTicks(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       int64
		wantErr    bool
	}{
		{"plain", "1 (cat) R 0 1 1 0 -1 4194304 97 0 0 0 7 3 0 0 20 0 1 0", 10, false},
		{"name with spaces", "1 (a b) R 0 1 1 0 -1 4194304 97 0 0 0 7 3 0 0 20", 10, false},
		{"name with parens", "1 (a) (b)) R 0 1 1 0 -1 4194304 97 0 0 0 100 1 0 0", 101, false},
		{"no name", "1 cat R 0", 0, true},
		{"too short", "1 (cat) R 0 1 1", 0, true},
		{"not a number", "1 (cat) R 0 1 1 0 -1 4194304 97 0 0 0 x 3 0 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatTicks([]byte(tc.line))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %d, %v, want %d (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestClockTicks(t *testing.T) {
	word := strconv.IntSize / 8
	put := func(b []byte, v uint64) []byte {
		w := make([]byte, word)
		if word == 4 {
			binary.NativeEndian.PutUint32(w, uint32(v))
		} else {
			binary.NativeEndian.PutUint64(w, v)
		}
		return append(b, w...)
	}
	var auxv []byte
	for _, kv := range [][2]uint64{{6, 4096}, {atClkTck, 250}, {0, 0}} {
		auxv = put(put(auxv, kv[0]), kv[1])
	}
	if hz, ok := clockTicks(auxv); !ok || hz != 250 {
		t.Errorf("got %d, %v, want 250", hz, ok)
	}
	// Without AT_CLKTCK: the first pair, then the end; or the end only.
	for _, v := range [][]byte{append(auxv[:2*word:2*word], auxv[4*word:]...), auxv[4*word:], nil} {
		if hz, ok := clockTicks(v); ok {
			t.Errorf("got %d from a vector without AT_CLKTCK", hz)
		}
	}
}

// used prefers the exact schedstat difference, unless threads that ended
// took their time with them.
func TestCPUUsed(t *testing.T) {
	tick := 10 * time.Millisecond
	before := cpuSample{sched: time.Second, ticks: time.Second}
	for _, tc := range []struct {
		name  string
		after cpuSample
		want  time.Duration
	}{
		{"schedstat, finer", cpuSample{sched: 1503 * time.Millisecond, ticks: 1500 * time.Millisecond}, 503 * time.Millisecond},
		{"stat truncated below", cpuSample{sched: 1519 * time.Millisecond, ticks: 1500 * time.Millisecond}, 519 * time.Millisecond},
		{"a thread ended", cpuSample{sched: 1200 * time.Millisecond, ticks: 1500 * time.Millisecond}, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.after.used(before, tick); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// The live /proc works for this process and gives the kernel's clock rate.
func TestProcFSLive(t *testing.T) {
	if !supported {
		t.Skip("no /proc here")
	}
	p := newProcFS()
	if p.tick <= 0 || p.tick > time.Second {
		t.Errorf("tick %s", p.tick)
	}
	pid := os.Getpid()
	if s, err := p.cpu(pid); err != nil || s.sched <= 0 {
		t.Errorf("cpu: got %+v, %v", s, err)
	}
	if rss, err := p.rss(pid); err != nil || rss <= 0 {
		t.Errorf("rss: got %d, %v", rss, err)
	}
}
