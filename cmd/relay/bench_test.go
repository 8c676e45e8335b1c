package main_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// `relay bench --quick` measures every scenario of the main table with
// events acked, no errors and CPU figures, prints the other tables, and
// leaves no process and no temporary directory behind.
func TestBenchQuick(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("relay bench reads /proc")
	}
	bin := MustBuild(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bench", "--quick")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("relay bench --quick: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()

	main := MustTable(t, out, "Main table")
	for _, name := range []string{
		"nats async (limit)", "nats-server ws, 1 in flight x 50",
		"relay ws, 1 in flight x 50", "relay ws, window 16 x 50",
		"relay ws, 1 in flight x 5", "relay ws, window 16 x 5",
		"relay post, batch 50", "relay lifecycle mix, 1 in flight x 50",
		"floor: ws echo, 1 in flight x 50", "floor: ws carried to JetStream, 1 in flight x 50",
		"relay ws, embedded nats, 1 in flight x 50", "relay lifecycle mix, embedded nats, 1 in flight x 50",
	} {
		row, ok := main[name]
		if !ok {
			t.Errorf("main table lacks %q:\n%s", name, out)
			continue
		}
		cells := []string{"acked", "events/s", "sum µs/ev"}
		if !strings.Contains(name, "embedded") && !strings.Contains(name, "echo") {
			cells = append(cells, "nats µs/ev") // the bench's nats-server did work
		}
		if strings.HasPrefix(name, "relay ") || strings.HasPrefix(name, "floor: ") {
			cells = append(cells, "relay µs/ev", "relay RSS MiB")
		}
		for _, c := range cells {
			if v, err := strconv.ParseFloat(row[c], 64); err != nil || v <= 0 {
				t.Errorf("%s: %s is %q, want > 0", name, c, row[c])
			}
		}
		if row["errors"] != "0" {
			t.Errorf("%s: errors %q, want 0\n%s", name, row["errors"], out)
		}
	}
	open := MustTable(t, out, "Open loop")
	for _, name := range []string{"relay ws", "relay ws, embedded nats", "nats-server ws"} {
		if row := open[name]; !strings.HasPrefix(row["all acked within 5s"], "yes") || row["errors"] != "0" {
			t.Errorf("open loop %s: got %v", name, row)
		}
	}
	if row := MustTable(t, out, "Idle connections")["self"]; row["opened"] != "200" || row["errors"] != "0" {
		t.Errorf("idle connections: got %v", row)
	}
	if row := MustTable(t, out, "Cold start (embedded NATS, empty data directory)")["self"]; row["starts"] != "1" {
		t.Errorf("cold start: got %v", row)
	}

	// Nothing is left behind.
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("temporary files left in %s: %v", tmp, left)
	}
	exes, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, exe := range exes {
		if target, err := os.Readlink(exe); err == nil && target == bin {
			t.Errorf("a process of the bench is still running: %s", exe)
		}
	}
}

// MustTable finds the Markdown table under "### title" in out and returns
// its rows by their first cell, each as cells by column name.
func MustTable(tb testing.TB, out, title string) map[string]map[string]string {
	tb.Helper()
	_, rest, ok := strings.Cut(out, "### "+title+"\n")
	if !ok {
		tb.Fatalf("no table %q in:\n%s", title, out)
	}
	var header []string
	rows := map[string]map[string]string{}
	for _, line := range strings.Split(rest, "\n")[1:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case header == nil:
			header = cells
		case strings.HasPrefix(cells[0], "---"):
		default:
			row := map[string]string{}
			for i, c := range cells {
				if i < len(header) {
					row[header[i]] = c
				}
			}
			rows[cells[0]] = row
		}
	}
	return rows
}
