package bench

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Fixed shapes of the scenarios: the brief's numbers, shared by every run so
// that results stay comparable.
const (
	agents        = 50                    // WebSocket agents of the "x 50" and open-loop scenarios
	fewAgents     = 5                     // agents of the latency-bound "x 5" scenarios
	wideWindow    = 16                    // events in flight per connection in the "window 16" scenarios
	postClients   = 10                    // concurrent POST clients
	postBatch     = 50                    // events per POST body
	asyncPending  = 512                   // most async publishes pending in "nats async (limit)"
	openCap       = 2000                  // most outstanding events per open-loop agent
	answerTimeout = 10 * time.Second      // how long a closed-loop answer may take before it counts as missing
	stopGrace     = 10 * time.Second      // SIGTERM to SIGKILL
	readyTimeout  = 30 * time.Second      // a child must be ready within this
	coldPoll      = 2 * time.Millisecond  // /readyz poll interval of the cold start
	readyPoll     = 10 * time.Millisecond // /readyz poll interval elsewhere
)

// Binary is a relay executable to measure, with the label its rows carry.
type Binary struct {
	Label string
	Path  string
}

// ParseBinary reads "label=path", or a bare path labelled by its file name.
func ParseBinary(s string) (Binary, error) {
	label, path, ok := strings.Cut(s, "=")
	if !ok {
		label, path = filepath.Base(s), s
	}
	if label == "" || path == "" {
		return Binary{}, fmt.Errorf("relay binary %q: want label=path", s)
	}
	return Binary{Label: label, Path: path}, nil
}

// Config is what one bench run does. DefaultConfig gives the full run,
// Quick a run of a few seconds for tests.
type Config struct {
	// Duration is the measured time of each main-table scenario, after
	// Warmup, which is not counted.
	Duration, Warmup time.Duration
	// OpenDuration is the measured time of each open-loop rate; Grace is
	// how long its answers are awaited after the end.
	OpenDuration, Grace time.Duration
	// Rates are the open loop's offered rates, events/s over all agents.
	Rates []int
	// IdleSizes are the idle-connection counts; IdleSettle is the wait
	// between opening them and reading the relay's RSS.
	IdleSizes  []int
	IdleSettle time.Duration
	// ColdStarts is how many cold starts the median is taken over.
	ColdStarts int
	// Runs is how many times the main table is measured.
	Runs int
	// Only selects sections and main-table scenarios by short name; empty
	// selects everything.
	Only []string
	// Relays are the relay binaries every relay scenario runs against.
	Relays []Binary
	// RelayArgs are appended to every `relay serve` command line.
	RelayArgs []string
	// Self is the bench's own executable, which runs `relay bench-nats`.
	Self string
}

// DefaultConfig is the full run: about two and a half minutes with one relay
// binary on two cores.
func DefaultConfig() Config {
	return Config{
		Duration: 5 * time.Second, Warmup: time.Second,
		OpenDuration: 10 * time.Second, Grace: 5 * time.Second,
		Rates:     []int{2000, 5000, 10000},
		IdleSizes: []int{1000, 5000, 10000}, IdleSettle: 2 * time.Second,
		ColdStarts: 5,
		Runs:       1,
	}
}

// Quick returns c with tiny durations and counts, for tests: every table
// is produced in a few seconds, with figures too small to mean much.
func (c Config) Quick() Config {
	c.Duration, c.Warmup = 300*time.Millisecond, 100*time.Millisecond
	c.OpenDuration, c.Grace = 500*time.Millisecond, 5*time.Second
	c.Rates = []int{500}
	c.IdleSizes, c.IdleSettle = []int{200}, 300*time.Millisecond
	c.ColdStarts = 1
	return c
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Duration <= 0 || c.OpenDuration <= 0 {
		errs = append(errs, errors.New("durations must be positive"))
	}
	if c.Warmup < 0 || c.Grace < 0 || c.IdleSettle < 0 {
		errs = append(errs, errors.New("warm-up, grace and settle times must not be negative"))
	}
	for _, r := range c.Rates {
		if r < agents || r > 1_000_000 {
			errs = append(errs, fmt.Errorf("rate %d: must be %d to 1000000 events/s", r, agents))
		}
	}
	for _, n := range c.IdleSizes {
		if n < 1 || n > 1_000_000 {
			errs = append(errs, fmt.Errorf("idle connections %d: must be 1 to 1000000", n))
		}
	}
	if c.ColdStarts < 1 || c.ColdStarts > 100 {
		errs = append(errs, fmt.Errorf("cold starts %d: must be 1 to 100", c.ColdStarts))
	}
	if c.Runs < 1 || c.Runs > 100 {
		errs = append(errs, fmt.Errorf("runs %d: must be 1 to 100", c.Runs))
	}
	if len(c.Relays) == 0 {
		errs = append(errs, errors.New("no relay binary to measure"))
	}
	labels := map[string]bool{}
	for _, b := range c.Relays {
		if labels[b.Label] {
			errs = append(errs, fmt.Errorf("relay binary label %q used twice", b.Label))
		}
		labels[b.Label] = true
	}
	if c.Self == "" {
		errs = append(errs, errors.New("the bench's own executable is unknown"))
	}
	known := knownNames()
	for _, name := range c.Only {
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("--only %q: not one of %s", name, strings.Join(known, ", ")))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid bench configuration: %w", errors.Join(errs...))
	}
	return nil
}

// knownNames are the names --only accepts: sections and scenarios.
func knownNames() []string {
	var names []string
	for _, s := range sections() {
		names = append(names, s.name)
	}
	for _, s := range scenarios() {
		names = append(names, s.short)
	}
	return names
}

// selected reports whether the section called name runs. The main section
// also runs when only some of its scenarios are named.
func (c Config) selected(name string) bool {
	if len(c.Only) == 0 || slices.Contains(c.Only, name) {
		return true
	}
	if name == mainSection {
		for _, s := range scenarios() {
			if slices.Contains(c.Only, s.short) {
				return true
			}
		}
	}
	return false
}

// scenarioSelected reports whether the main-table scenario short runs.
func (c Config) scenarioSelected(short string) bool {
	if len(c.Only) == 0 || slices.Contains(c.Only, mainSection) {
		return true
	}
	return slices.Contains(c.Only, short)
}
