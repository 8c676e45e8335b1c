package bench

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The stream every scenario writes to: the one the relay creates by default.
const (
	streamName     = "AGENTCALL"
	streamSubjects = "agentcall.>"
	streamDupes    = 10 * time.Minute
	streamMaxAge   = 72 * time.Hour
	adminTimeout   = 30 * time.Second
)

// natsProc is the bench's nats-server, a child process running
// `relay bench-nats`, and the bench's own connection to it, used to reset
// the stream between scenarios.
type natsProc struct {
	child *child
	url   string // nats://127.0.0.1:P
	wsURL string // ws://127.0.0.1:W
	nc    *nats.Conn
	js    jetstream.JetStream
}

// startNATS starts the bench's nats-server with its store in storeDir and
// connects to it.
func startNATS(ctx context.Context, kids *children, self, storeDir string) (*natsProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	wsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	ready := newLineSignal()
	args := []string{"bench-nats", "--store", storeDir, "--port", strconv.Itoa(port), "--ws-port", strconv.Itoa(wsPort)}
	c, err := kids.start("nats-server", self, args, ready)
	if err != nil {
		return nil, err
	}
	var line string
	select {
	case line = <-ready.lines:
	case <-c.done:
		return nil, fmt.Errorf("start the bench nats-server: %s", c.why())
	case <-time.After(readyTimeout):
		return nil, fmt.Errorf("start the bench nats-server: not ready after %s; %s", readyTimeout, c.why())
	case <-ctx.Done():
		return nil, fmt.Errorf("start the bench nats-server: %w", ctx.Err())
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ready" {
		return nil, fmt.Errorf("start the bench nats-server: unexpected first line %q", line)
	}
	n := &natsProc{child: c, url: f[1], wsURL: f[2]}
	n.nc, err = nats.Connect(n.url, nats.Name("callrelay-bench-admin"))
	if err != nil {
		return nil, fmt.Errorf("connect to the bench nats-server %s: %w", n.url, err)
	}
	n.js, err = jetstream.New(n.nc)
	if err != nil {
		n.nc.Close()
		return nil, fmt.Errorf("open jetstream on the bench nats-server: %w", err)
	}
	return n, nil
}

// resetStream makes sure the stream exists with the relay's default
// configuration and purges it, so that a scenario starts from an empty one.
func (n *natsProc) resetStream(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	stream, err := n.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       streamName,
		Subjects:   []string{streamSubjects},
		Storage:    jetstream.FileStorage,
		Replicas:   1,
		Duplicates: streamDupes,
		MaxAge:     streamMaxAge,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", streamName, err)
	}
	if err := stream.Purge(ctx); err != nil {
		return fmt.Errorf("purge stream %s: %w", streamName, err)
	}
	return nil
}

// close closes the admin connection; the process is stopped with the other
// children.
func (n *natsProc) close() {
	if n.nc != nil {
		n.nc.Close()
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
