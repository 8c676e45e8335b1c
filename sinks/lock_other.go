//go:build !unix

package sinks

import "errors"

// ErrStoreLocked is wrapped by the error of Start when another embedded
// server already runs over the same store directory. Without flock(2)
// (non-Unix systems) the store is not locked.
var ErrStoreLocked = errors.New("store directory in use")

type storeLock struct{}

func lockStore(string) (*storeLock, error) { return &storeLock{}, nil }

func (l *storeLock) unlock() {}
