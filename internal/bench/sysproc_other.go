//go:build !linux

package bench

import (
	"errors"
	"syscall"
)

// supported reports whether the bench can run here: it reads /proc, which
// only Linux has in the form it needs. The package still compiles
// elsewhere, so that the relay binary does; Run refuses to start.
const supported = false

// childAttr has nothing to set where the bench does not run.
func childAttr() *syscall.SysProcAttr { return nil }

// signalGroup is not used where the bench does not run.
func signalGroup(int, syscall.Signal) error { return errors.New("relay bench runs on Linux only") }

// raiseFileLimit is not used where the bench does not run.
func raiseFileLimit() (uint64, error) { return 0, errors.New("relay bench runs on Linux only") }
