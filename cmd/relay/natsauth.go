package main

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/nats-io/nats.go"
)

// The environment variables of the NATS credentials. They have no flags: a
// password on the command line is visible to every user of the machine.
const (
	envNATSUser     = "RELAY_NATS_USER"
	envNATSPassword = "RELAY_NATS_PASSWORD"
)

// natsCredentials are the user and password the embedded NATS server
// requires and that the relay and relay tail present to NATS.
type natsCredentials struct {
	User     string
	Password string
}

// natsCredentialsFromEnv reads RELAY_NATS_USER and RELAY_NATS_PASSWORD.
func natsCredentialsFromEnv() natsCredentials {
	return natsCredentials{User: os.Getenv(envNATSUser), Password: os.Getenv(envNATSPassword)}
}

// set reports whether credentials are configured.
func (c natsCredentials) set() bool { return c.User != "" }

// validate reports a half-configured pair, never showing the password.
func (c natsCredentials) validate() []error {
	switch {
	case c.User != "" && c.Password == "":
		return []error{fmt.Errorf("%s is set but %s is empty: set both or neither", envNATSUser, envNATSPassword)}
	case c.User == "" && c.Password != "":
		return []error{fmt.Errorf("%s is set but %s is empty: set both or neither", envNATSPassword, envNATSUser)}
	}
	return nil
}

// embeddedLoopback reports whether the embedded server's listen address
// (host:port) is reachable only from this machine. An empty host means
// 127.0.0.1 for the embedded server (sinks.EmbeddedConfig).
func embeddedLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return host == "" || loopbackAddr(addr)
}

// natsAuthHint adds to a refused connection what to set.
func natsAuthHint(err error) error {
	if errors.Is(err, nats.ErrAuthorization) {
		return fmt.Errorf("%w (NATS wants credentials: set %s and %s, or write them in --nats-url)", err, envNATSUser, envNATSPassword)
	}
	return err
}
