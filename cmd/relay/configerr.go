package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/callrelay/callrelay/relay"
)

// flagOf names the flag of each setting that relay.Config.Validate reports;
// a setting without a flag keeps its name.
var flagOf = map[string]string{
	"subject prefix":       "--subject-prefix",
	"tenant":               "--tenant",
	"allowed origin":       "--allowed-origins",
	"workbench origin":     "--workbench-origins",
	"token secret":         "--token-secret",
	"token audience":       "--token-audience",
	"token issuer":         "--token-issuer",
	"token tenant claim":   "--token-tenant-claim",
	"require tenant claim": "--require-tenant-claim",
	"max message bytes":    "--max-message-bytes",
	"max batch bytes":      "--max-batch-bytes",
	"dedup window":         "--dedup-window",
	"publish timeout":      "--publish-timeout",
	"window":               "--ws-window",
	"drain grace":          "--drain-grace",
	"hello timeout":        "--hello-timeout",
	"call ended ttl":       "--call-ended-ttl",
	"call idle ttl":        "--call-idle-ttl",
	"max calls":            "--max-calls",
	"max state bytes":      "--max-state-bytes",
	"max agents":           "--max-agents",
	"sobot sign":           "--sobot-sign",
	"sobot sysnum":         "--sobot-sysnum",
	"sobot key":            "--sobot-key (RELAY_SOBOT_KEY)",
	"sign window":          "--sobot-sign-window",
	"max talk bytes":       "--max-talk-bytes",
	"max clock skew":       "--max-clock-skew",
	"rate limit":           "--rate-limit",
	"rate burst":           "--rate-burst",
	"max connections":      "--max-connections",
}

func flagName(setting string) string {
	if f, ok := flagOf[setting]; ok {
		return f
	}
	return setting
}

// configError is every problem of the configuration, one line each, each
// naming its flag and the value given: `--tenant "a b": must be ...`.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.problems, "\n  ")
}

// newConfigError describes errs (relay.FieldErrors or errors that name
// their flag already); nil when there are none.
func newConfigError(errs []error) error {
	var problems []string
	for _, err := range errs {
		for _, e := range leaves(err) {
			var fe *relay.FieldError
			if errors.As(e, &fe) {
				problems = append(problems, fe.Describe(flagName))
				continue
			}
			problems = append(problems, e.Error())
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &configError{problems}
}

// leaves flattens errors joined with errors.Join.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// checkFree fails when addr, the value of flag, cannot be listened on,
// with the flag to change when another process holds it. It listens and
// closes at once; port 0 is always free.
func checkFree(flag, addr string) error {
	if _, port, err := splitHostPort(addr); err == nil && port == 0 {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return listenError(flag, addr, err)
	}
	return ln.Close()
}

// listenError says what to do about a failed listen on addr, the value of
// flag.
func listenError(flag, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s %s: the address is in use (another relay still running?); stop that process, or choose another port with %s", flag, addr, flag)
	}
	return fmt.Errorf("%s %s: cannot listen: %w", flag, addr, err)
}
