package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Env is what a section of the report runs with: the configuration, the
// bench's nats-server, the children it started, the /proc reader, a
// temporary directory removed at the end, and the progress output.
type Env struct {
	cfg       Config
	nats      *natsProc
	kids      *children
	proc      procFS
	tmp       string
	fileLimit uint64

	mu       sync.Mutex
	tags     int
	progress io.Writer
}

// newTag returns a tag no other scenario of the run has, for event and call
// ids.
func (e *Env) newTag() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tags++
	return "b" + strconv.Itoa(e.tags)
}

// progressf writes one progress line.
func (e *Env) progressf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.progress, "bench: "+format+"\n", args...)
}

// Run runs the bench cfg describes. It prints a header and then each
// section's tables to out as the section ends, and progress lines to
// progress. Before it returns, also when ctx ends (Ctrl-C), it stops every
// process it started and removes its temporary directory.
func Run(ctx context.Context, cfg Config, out, progress io.Writer) (err error) {
	if !supported {
		return errors.New("relay bench runs on Linux only: it reads /proc")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	e := &Env{cfg: cfg, kids: &children{}, proc: newProcFS(), progress: progress}
	if e.fileLimit, err = raiseFileLimit(); err != nil {
		return err
	}
	if e.tmp, err = os.MkdirTemp("", "relay-bench-"); err != nil {
		return fmt.Errorf("make the bench's temporary directory: %w", err)
	}
	defer func() {
		if stopErr := e.kids.stopAll(stopGrace); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		if rmErr := os.RemoveAll(e.tmp); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", e.tmp, rmErr))
		}
	}()
	e.progressf("starting the nats-server (store in %s)", e.tmp)
	if e.nats, err = startNATS(ctx, e.kids, cfg.Self, filepath.Join(e.tmp, "nats")); err != nil {
		return err
	}
	defer e.nats.close()
	if err := writeHeader(out, e); err != nil {
		return err
	}
	for _, s := range sections() {
		if !cfg.selected(s.name) {
			continue
		}
		tables, err := s.run(ctx, e)
		for _, t := range tables {
			if werr := t.Markdown(out); werr != nil {
				return fmt.Errorf("write the report: %w", werr)
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during %s: %w", s.name, ctx.Err())
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	e.progressf("done")
	return nil
}

// writeHeader prints what was measured, where and how.
func writeHeader(w io.Writer, e *Env) error {
	var bins []string
	for _, b := range e.cfg.Relays {
		bins = append(bins, b.Label+"="+b.Path)
	}
	_, data := newGenerator("b0", 0, false, newCreationClock()).next(nil)
	lines := []string{
		"## relay bench",
		"",
		fmt.Sprintf("- %s, %s/%s, %d CPUs, bench built with %s",
			time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
		"- relay binaries: " + strings.Join(bins, ", "),
		fmt.Sprintf("- nats-server %s (library, own process), JetStream file store, stream %s (%s), purged before each scenario",
			server.VERSION, streamName, streamSubjects),
		fmt.Sprintf("- EventEstablished data: %d bytes; scenarios: %s measured after %s of warm-up; open loop: %s per rate",
			len(data), e.cfg.Duration, e.cfg.Warmup, e.cfg.OpenDuration),
		"- CPU: run time of each process from /proc/<pid>/task/*/schedstat (ns), checked against /proc/<pid>/stat",
		"",
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return err
}
