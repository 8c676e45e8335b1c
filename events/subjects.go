package events

import (
	"errors"
	"strings"
)

// MaxTenantLen is the longest tenant name, in bytes.
const MaxTenantLen = 64

// Subjects names the NATS subjects of one prefix and tenant (contract C):
//
//	<prefix>.<tenant>.callBarEvent.<messageID>  accepted phone-bar events
//	<prefix>.<tenant>.iframeParams              accepted talk details
//	<prefix>.<tenant>.call                      the merged view of a call
//	<prefix>.<tenant>.rejected                  refused events
//
// Build it with NewSubjects so that both parts are valid.
type Subjects struct {
	Prefix string
	Tenant string
}

// NewSubjects returns the Subjects of prefix and tenant. prefix is one or
// more dot-separated tokens of ASCII letters, digits, '_' and '-'; tenant
// is one such token of at most MaxTenantLen bytes.
func NewSubjects(prefix, tenant string) (Subjects, error) {
	var errs []error
	if prefix == "" {
		errs = append(errs, errors.New("subject prefix is empty"))
	} else {
		for _, tok := range strings.Split(prefix, ".") {
			if !validToken(tok) {
				errs = append(errs, errors.New("subject prefix must be dot-separated tokens of letters, digits, '_' or '-'"))
				break
			}
		}
	}
	if !ValidTenant(tenant) {
		errs = append(errs, errors.New("tenant must be 1 to 64 letters, digits, '_' or '-'"))
	}
	if len(errs) > 0 {
		return Subjects{}, errors.Join(errs...)
	}
	return Subjects{Prefix: prefix, Tenant: tenant}, nil
}

// ValidTenant reports whether s is a valid tenant: 1 to MaxTenantLen ASCII
// letters, digits, '_' or '-'.
func ValidTenant(s string) bool {
	return len(s) <= MaxTenantLen && validToken(s)
}

// validToken reports whether s is a non-empty run of [A-Za-z0-9_-].
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// base returns "<prefix>.<tenant>".
func (s Subjects) base() string {
	return s.Prefix + "." + s.Tenant
}

// CallBarEvent returns the subject of a phone-bar event with messageID,
// which must satisfy ValidMessageID (Parse guarantees it).
func (s Subjects) CallBarEvent(messageID string) string {
	return s.base() + "." + TypeCallBarEvent + "." + messageID
}

// IframeParams returns the subject of talk-details messages.
func (s Subjects) IframeParams() string {
	return s.base() + "." + TypeIframeParams
}

// Call returns the subject of the merged call view.
func (s Subjects) Call() string {
	return s.base() + ".call"
}

// Rejected returns the subject of refused events.
func (s Subjects) Rejected() string {
	return s.base() + ".rejected"
}

// All returns the wildcard subject covering every subject of the tenant.
func (s Subjects) All() string {
	return s.base() + ".>"
}

// Stream returns the wildcard subject covering every tenant of the
// prefix, which is what a JetStream stream should cover.
func (s Subjects) Stream() string {
	return s.Prefix + ".>"
}

// For returns the subject of a message accepted by Parse, or "" when m is
// nil or its Type is neither TypeCallBarEvent nor TypeIframeParams.
func (s Subjects) For(m *Message) string {
	if m == nil {
		return ""
	}
	switch m.Type {
	case TypeCallBarEvent:
		return s.CallBarEvent(m.MessageID)
	case TypeIframeParams:
		return s.IframeParams()
	}
	return ""
}
