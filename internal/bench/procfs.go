package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// atClkTck is the auxiliary-vector key of the clock-tick rate (sysconf's
// _SC_CLK_TCK); defaultTick is the Linux value when it cannot be read.
const (
	atClkTck    = 17
	defaultTick = 10 * time.Millisecond
)

// procFS reads a process's CPU time and memory from a proc file system. The
// root is "/proc" in the bench and a fixture directory in tests.
type procFS struct {
	root string
	tick time.Duration // one clock tick of /proc/<pid>/stat, 1/CLK_TCK
}

// newProcFS returns the reader of the live /proc, with the clock tick the
// kernel announces to this process.
func newProcFS() procFS {
	tick := defaultTick
	if auxv, err := os.ReadFile("/proc/self/auxv"); err == nil {
		if hz, ok := clockTicks(auxv); ok {
			tick = time.Second / time.Duration(hz)
		}
	}
	return procFS{root: "/proc", tick: tick}
}

// clockTicks finds AT_CLKTCK in an auxiliary vector: pairs of native words,
// key then value, ended by a zero key.
func clockTicks(auxv []byte) (int, bool) {
	word := strconv.IntSize / 8
	for i := 0; i+2*word <= len(auxv); i += 2 * word {
		key, val := readWord(auxv[i:], word), readWord(auxv[i+word:], word)
		if key == 0 {
			break
		}
		if key == atClkTck && val > 0 && val <= 1_000_000 {
			return int(val), true
		}
	}
	return 0, false
}

// readWord decodes one native-endian word of size 4 or 8.
func readWord(b []byte, size int) uint64 {
	if size == 4 {
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return binary.NativeEndian.Uint64(b)
}

// cpuSample is a process's CPU time at one moment, read two ways: sched is
// the sum of its live threads' run time from task/*/schedstat (nanoseconds),
// ticks is utime+stime from stat (clock ticks, dead threads included).
type cpuSample struct {
	sched, ticks time.Duration
}

// cpu reads the CPU time process pid has used so far.
func (p procFS) cpu(pid int) (cpuSample, error) {
	dir := filepath.Join(p.root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return cpuSample{}, fmt.Errorf("read cpu time of process %d: %w", pid, err)
	}
	ticks, err := parseStatTicks(stat)
	if err != nil {
		return cpuSample{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return cpuSample{}, fmt.Errorf("list threads of process %d: %w", pid, err)
	}
	var sched time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, "task", t.Name(), "schedstat"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread ended between the listing and the read
		}
		if err != nil {
			return cpuSample{}, fmt.Errorf("read schedstat of thread %s of process %d: %w", t.Name(), pid, err)
		}
		ns, err := parseSchedstat(b)
		if err != nil {
			return cpuSample{}, fmt.Errorf("parse schedstat of thread %s of process %d: %w", t.Name(), pid, err)
		}
		sched += ns
	}
	return cpuSample{sched: sched, ticks: time.Duration(ticks) * p.tick}, nil
}

// used returns the CPU time spent between before and s. It is the
// schedstat difference, exact to the nanosecond, unless that is clearly
// smaller than the stat difference: then threads ended in between and took
// their schedstat time with them, and the stat figure (which keeps it, at a
// resolution of one tick per reading) is the right one.
func (s cpuSample) used(before cpuSample, tick time.Duration) time.Duration {
	sched, ticks := s.sched-before.sched, s.ticks-before.ticks
	if sched < ticks-2*tick {
		return ticks
	}
	return sched
}

// parseStatTicks returns utime+stime from a /proc/<pid>/stat line. The
// command name, in parentheses, may itself hold spaces and parentheses, so
// the fields are counted from the last ')'.
func parseStatTicks(stat []byte) (int64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("no command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("only %d fields after the command name", len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("utime or stime: %w", err)
	}
	return utime + stime, nil
}

// parseSchedstat returns the first field of a schedstat line: the time the
// thread has run, in nanoseconds.
func parseSchedstat(b []byte) (time.Duration, error) {
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, errors.New("empty")
	}
	ns, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("run time: %w", err)
	}
	return time.Duration(ns), nil
}

// rss returns the resident set size of process pid in bytes (VmRSS).
func (p procFS) rss(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join(p.root, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("process %d: unexpected VmRSS line %q", pid, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process %d: VmRSS: %w", pid, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("process %d: no VmRSS in status", pid)
}
