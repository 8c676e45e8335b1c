package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

type versionCmd struct{}

// Run prints the version, the VCS revision when known, and the Go version.
func (versionCmd) Run() error {
	_, err := fmt.Fprintf(os.Stdout, "callrelay %s (revision %s, %s)\n", version, revision(), runtime.Version())
	return err
}

// revision is the VCS revision the binary was built from, or "unknown".
func revision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
			if len(rev) > 12 {
				rev = rev[:12]
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
