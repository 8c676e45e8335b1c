//go:build unix

package sinks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFileName is the file in a store directory that an embedded server
// holds an exclusive lock on while it runs.
const lockFileName = "callrelay.lock"

// ErrStoreLocked is wrapped by the error of Start when another embedded
// server, in this process or another, already runs over the same store
// directory: two JetStream servers writing one store corrupt it.
var ErrStoreLocked = errors.New("store directory in use")

// storeLock is an exclusive flock(2) on <dir>/callrelay.lock. The kernel
// releases it when the process ends, however it ends (kill -9 included),
// so a stale lock file never blocks a restart.
type storeLock struct{ f *os.File }

// lockStore takes the lock on dir, creating dir if needed. It fails at
// once, with ErrStoreLocked and the holder's pid when known, if the lock is
// taken.
func lockStore(dir string) (*storeLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create store directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid := strings.TrimSpace(string(b)); pid != "" {
				holder = " (held by pid " + pid + ")"
			}
		}
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by another running server%s", ErrStoreLocked, dir, holder)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The pid is for the message above; the lock itself is the flock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &storeLock{f: f}, nil
}

// unlock releases the lock; safe on nil.
func (l *storeLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
