package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// killWait bounds the wait for a process after SIGKILL.
const killWait = 5 * time.Second

// child is a process the bench started: in its own process group, so that
// signals reach everything it starts, and killed by the kernel if the bench
// dies first (see childAttr).
type child struct {
	name   string
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process has been waited for
	err    error         // the wait's result, set before done is closed
	stderr *tailBuffer
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// why describes how the child ended, with the end of its stderr.
func (c *child) why() string {
	status := "still running"
	if c.exited() {
		status = fmt.Sprintf("exited: %v", c.err)
	}
	if tail := strings.TrimSpace(c.stderr.String()); tail != "" {
		status += "; stderr: " + tail
	}
	return status
}

// stop sends SIGTERM to the child's process group, waits up to grace, then
// sends SIGKILL. It is safe to call on a child that has ended.
func (c *child) stop(grace time.Duration) error {
	if c.exited() {
		return nil
	}
	_ = signalGroup(c.pid(), syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-time.After(grace):
	}
	_ = signalGroup(c.pid(), syscall.SIGKILL)
	select {
	case <-c.done:
		return fmt.Errorf("%s (pid %d) did not stop within %s of SIGTERM: killed", c.name, c.pid(), grace)
	case <-time.After(killWait):
		return fmt.Errorf("%s (pid %d) did not end after SIGKILL", c.name, c.pid())
	}
}

// children starts and tracks every child of a run, so that stopAll can
// stop those still running. It is safe for concurrent use.
type children struct {
	mu   sync.Mutex
	list []*child
}

// start runs bin with args as a child named name. Its stdout goes to
// stdout (nil: discarded); the end of its stderr is kept for errors.
func (cs *children) start(name, bin string, args []string, stdout io.Writer) (*child, error) {
	return cs.startEnv(name, bin, args, nil, stdout)
}

// startEnv is start with env added to the bench's own environment.
func (cs *children) startEnv(name, bin string, args, env []string, stdout io.Writer) (*child, error) {
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = childAttr()
	cmd.Stdout = stdout
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = c.stderr
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	cs.list = append(cs.list, c)
	return c, nil
}

// stopAll stops every child still running, all at once, each bounded by
// grace plus the SIGKILL wait, and forgets them.
func (cs *children) stopAll(grace time.Duration) error {
	cs.mu.Lock()
	list := cs.list
	cs.list = nil
	cs.mu.Unlock()
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for i, c := range list {
		wg.Go(func() { errs[i] = c.stop(grace) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// tailBuffer is an io.Writer that keeps the last max bytes written. It is
// safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write keeps the end of p.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns what is kept.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.buf, nil))
}

// lineSignal is an io.Writer that delivers the first complete line written
// to it on lines and discards everything else.
type lineSignal struct {
	mu    sync.Mutex
	buf   []byte
	sent  bool
	lines chan string // capacity 1
}

// newLineSignal returns a lineSignal with its channel.
func newLineSignal() *lineSignal { return &lineSignal{lines: make(chan string, 1)} }

// Write looks for the end of the first line.
func (l *lineSignal) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent {
		return len(p), nil
	}
	l.buf = append(l.buf, p...)
	if i := bytes.IndexByte(l.buf, '\n'); i >= 0 {
		l.lines <- string(l.buf[:i])
		l.sent, l.buf = true, nil
	} else if len(l.buf) > 4096 {
		l.buf = l.buf[:0]
	}
	return len(p), nil
}
