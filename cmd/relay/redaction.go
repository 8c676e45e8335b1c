package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/redact"
)

// redaction builds the personal-data policy from --redaction,
// --redaction-file and --pseudonym-key. Its errors name the flag, never the
// key.
func (s serveCmd) redaction() (*redact.Policy, error) {
	var spec redact.Spec
	var err error
	switch {
	case s.RedactionFile != "":
		if s.Redaction != redact.PresetNone {
			return nil, errors.New("--redaction and --redaction-file: give one (a policy file names its preset with 'base')")
		}
		if spec, err = redact.LoadFile(s.RedactionFile); err != nil {
			return nil, fmt.Errorf("--redaction-file: %w", err)
		}
	default:
		if spec, err = redact.Preset(s.Redaction); err != nil {
			return nil, fmt.Errorf("--redaction %q: want %s", s.Redaction, strings.Join(redact.Presets(), " or "))
		}
	}
	policy, err := spec.Compile([]byte(s.PseudonymKey))
	if err != nil {
		if len(s.PseudonymKey) < redact.MinKeyBytes && strings.Contains(err.Error(), "pseudonym key") {
			return nil, fmt.Errorf("--pseudonym-key (RELAY_PSEUDONYM_KEY): %w", err)
		}
		return nil, fmt.Errorf("redaction policy: %w", err)
	}
	return policy, nil
}

// logRedaction logs the policy in force: field names and actions, never a
// value or the key (only its id).
func logRedaction(log zerolog.Logger, p *redact.Policy) {
	ev := log.Info().Str("policy", p.Name()).Str("version", p.Version())
	if id := p.KeyID(); id != "" {
		ev = ev.Str("pseudonym_key_id", id)
	}
	if !p.None() {
		d := zerolog.Dict()
		for _, f := range p.Describe() {
			d = d.Str(f.Name, f.Rule.String())
		}
		ev = ev.Dict("rules", d)
	}
	ev.Msg("personal-data policy")
}
