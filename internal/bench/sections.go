package bench

import "context"

// section is one part of the report: it runs with the bench's Env and
// returns the tables to print, in order. Tables come back even with an
// error, so that what was measured before the failure is printed.
type section struct {
	name string // its --only name
	run  func(ctx context.Context, e *Env) ([]Table, error)
}

// sections lists the report's parts in the order they run and print.
//
// To add a table, write its section function in a file of its own (for
// example bytespercall.go: func runBytesPerCall(ctx context.Context, e *Env)
// ([]Table, error), measuring whatever it needs in-process or through
// e.startRelay) and add one line here; --only accepts its name at once.
func sections() []section {
	return []section{
		{name: mainSection, run: runMain},
		{name: openSection, run: runOpenLoop},
		{name: idleSection, run: runIdle},
		{name: coldSection, run: runColdStart},
	}
}
