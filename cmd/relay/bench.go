package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/callrelay/callrelay/internal/bench"
)

// benchCmd is `relay bench`: it measures the relay against the direct NATS
// paths on this machine and prints Markdown tables (docs/performance.md).
type benchCmd struct {
	Duration     time.Duration `default:"5s" help:"Measured time of each main-table scenario, after the warm-up."`
	Warmup       time.Duration `default:"1s" help:"Warm-up before each measurement, not counted."`
	OpenDuration time.Duration `name:"open-duration" default:"10s" help:"Measured time of each open-loop rate."`
	Grace        time.Duration `default:"5s" help:"Open loop: how long answers are awaited after the end."`
	Rates        []int         `default:"2000,5000,10000" help:"Open-loop offered rates, events/s over 50 agents."`
	Idle         []int         `default:"1000,5000,10000" help:"Idle WebSocket connection counts."`
	ColdStarts   int           `name:"cold-starts" default:"5" help:"Cold starts the median is taken over."`
	Runs         int           `default:"1" help:"How many times the main table is measured; with more than one, a table of the medians follows."`
	Only         []string      `help:"Run only these sections or scenarios, comma-separated: main, open, idle, cold, nats-async, nats-ws, floor-echo, floor-carry, ws-1x50, ws-16x50, ws-1x5, ws-16x5, post, mix, emb-1x50, emb-mix."`
	Quick        bool          `help:"Tiny durations and counts, for tests (overrides the durations, rates, sizes and cold starts)."`
	RelayBin     []string      `name:"relay-bin" sep:"none" placeholder:"LABEL=PATH" help:"Relay binary to measure, repeatable; every relay scenario runs once per binary (default: this executable, labelled self)."`
	RelayArg     []string      `name:"relay-arg" sep:"none" placeholder:"ARG" help:"Extra argument for every relay serve, repeatable; write --relay-arg=--flag=value."`
}

// Run builds the configuration and runs the bench until it ends or SIGINT
// or SIGTERM arrives; either way every process it started is stopped.
func (b benchCmd) Run() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the bench's own executable: %w", err)
	}
	cfg := bench.DefaultConfig()
	cfg.Duration, cfg.Warmup = b.Duration, b.Warmup
	cfg.OpenDuration, cfg.Grace = b.OpenDuration, b.Grace
	cfg.Rates, cfg.IdleSizes = b.Rates, b.Idle
	cfg.ColdStarts, cfg.Runs = b.ColdStarts, b.Runs
	cfg.Only, cfg.RelayArgs, cfg.Self = b.Only, b.RelayArg, self
	if b.Quick {
		cfg = cfg.Quick()
	}
	for _, s := range b.RelayBin {
		bin, err := bench.ParseBinary(s)
		if err != nil {
			return err
		}
		cfg.Relays = append(cfg.Relays, bin)
	}
	if len(cfg.Relays) == 0 {
		cfg.Relays = []bench.Binary{{Label: "self", Path: self}}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second Ctrl-C ends the bench at once; its children die with it.
	context.AfterFunc(ctx, stop)
	return bench.Run(ctx, cfg, os.Stdout, os.Stderr)
}

// benchNATSCmd is the hidden `relay bench-nats`: the nats-server the bench
// runs in a process of its own, so that its CPU is measured apart.
type benchNATSCmd struct {
	Store  string `required:"" help:"JetStream store directory."`
	Port   int    `required:"" help:"Client port on 127.0.0.1."`
	WSPort int    `name:"ws-port" required:"" help:"WebSocket port on 127.0.0.1."`
}

// Run serves until SIGINT or SIGTERM.
func (n benchNATSCmd) Run() error {
	return untilSignal(func(ctx context.Context) error {
		return bench.ServeNATS(ctx, bench.NATSServerConfig{StoreDir: n.Store, Port: n.Port, WSPort: n.WSPort}, os.Stdout, os.Stderr)
	})
}

// untilSignal runs serve with a context that ends at SIGINT or SIGTERM.
func untilSignal(serve func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx)
}

// benchFloorCmd is the hidden `relay bench-floor`: the least a relay can
// do, for the bench's floor rows (internal/bench/floor.go).
type benchFloorCmd struct {
	Addr    string `required:"" help:"Listen address, 127.0.0.1:port."`
	NATSURL string `name:"nats-url" help:"NATS server (carry mode)."`
	Mode    string `required:"" enum:"echo,carry" help:"echo: answer at once; carry: publish to JetStream, then answer."`
}

// Run serves until SIGINT or SIGTERM.
func (f benchFloorCmd) Run() error {
	return untilSignal(func(ctx context.Context) error {
		return bench.ServeFloor(ctx, bench.FloorConfig{Addr: f.Addr, NATSURL: f.NATSURL, Mode: f.Mode}, os.Stdout)
	})
}
