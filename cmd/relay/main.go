// Command relay runs callrelay: it carries the Sobot V6 agent workbench's
// agentCall messages from the browser onto NATS subjects.
//
//	relay [serve] [flags]   run the relay (the default command)
//	relay tail [subject]    print published messages with their subjects, one per line
//	relay version           print the version
//
// main is the only place that knows every package: it reads the
// configuration, wires the sink, the relay and the embedded NATS server, and
// handles signals.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// cli is the command line. Every flag of serve (and tail) has a RELAY_*
// environment variable (bench, a tool, has none);
// README.md's configuration table lists them and a test keeps it complete.
type cli struct {
	Serve   serveCmd   `cmd:"" default:"withargs" help:"Run the relay (the default command)."`
	Tail    tailCmd    `cmd:"" help:"Print the messages published on NATS with their subjects, one per line (JSON or text); --since or --all replay the stream first."`
	Version versionCmd `cmd:"" help:"Print the version and exit."`
	Bench   benchCmd   `cmd:"" help:"Measure the relay against the direct NATS paths on this machine and print Markdown tables (docs/performance.md)."`

	BenchNATS  benchNATSCmd  `cmd:"" hidden:"" name:"bench-nats" help:"Run the bench's nats-server (used by relay bench)."`
	BenchFloor benchFloorCmd `cmd:"" hidden:"" name:"bench-floor" help:"Run the bench's floor server (used by relay bench)."`
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses args, runs the chosen command and returns the exit code.
func run(args []string) int {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("relay"),
		kong.Description("callrelay: Sobot agent workbench events from the browser to NATS."),
		kong.UsageOnError(),
		kong.Vars{"version": version, "tail_nats_url": defaultTailURL},
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 2
	}
	ctx, err := parser.Parse(args)
	if err != nil {
		parser.Errorf("%s", err)
		return 2
	}
	if err := ctx.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 1
	}
	return 0
}
