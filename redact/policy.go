package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// Action is what a policy does with one field.
type Action uint8

// The actions, in the words of a policy file.
const (
	// Keep publishes the value as received.
	Keep Action = iota
	// Drop leaves the field out.
	Drop
	// Mask keeps the first Head and last Tail characters and replaces every
	// other character with '*', like the workbench's own 158****2496.
	Mask
	// Pseudonym replaces the value with a keyed HMAC of it: the same value
	// under the same key always gives the same pseudonym, so consumers can
	// still join and count.
	Pseudonym
)

var actionNames = [...]string{Keep: "keep", Drop: "drop", Mask: "mask", Pseudonym: "pseudonym"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// ParseAction reads an action's name.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if s == n {
			return Action(i), nil
		}
	}
	return Keep, fmt.Errorf("unknown action %q (want keep, drop, mask or pseudonym)", s)
}

// Rule is the action for one field, with the shape of a mask.
type Rule struct {
	Action Action
	// Head and Tail are the characters a mask keeps at each end.
	Head, Tail int
}

func (r Rule) String() string {
	if r.Action == Mask {
		return fmt.Sprintf("mask(%d,%d)", r.Head, r.Tail)
	}
	return r.Action.String()
}

// Default mask shape: 158****2496.
const (
	DefaultHead = 3
	DefaultTail = 4
)

// Structural params fields: the relay validates, correlates or enriches on
// them, so a policy may only keep them. None of them is personal data.
var structural = map[string]bool{
	"messageID": true, "callID": true, "callId": true, "callType": true,
	"creationTime": true, "partyID": true,
	"firstDistributedQueueUUID": true, "firstDistributedQueueId": true, "firstDistributedQueueName": true,
	"lastDistributedQueueUUID": true, "lastDistributedQueueId": true, "lastDistributedQueueName": true,
}

// Structural reports whether params field name may only be kept.
func Structural(name string) bool { return structural[name] }

// Spec is a policy before it is given its key: what a preset or a policy
// file says.
type Spec struct {
	// Name names the policy in its published version: a preset's name, or
	// the file's "name" (default "custom").
	Name string
	// Params maps params field names to their rules.
	Params map[string]Rule
	// Default is the rule of every params field Params does not list.
	Default Rule
	// AgentSubject is the rule of the client token's subject, published as
	// agent.subject.
	AgentSubject Rule
	// Talk is Keep or Drop: whether phone-bar events carry the call's talk
	// details (as the policy left them).
	Talk Action
	// Customer is Keep or Drop: whether call views carry the customer (as
	// the policy left it).
	Customer Action
}

// Presets.
const (
	PresetNone   = "none"
	PresetStrict = "strict"
)

// Presets lists the presets' names.
func Presets() []string { return []string{PresetNone, PresetStrict} }

// Preset returns the Spec of a preset.
//
// none publishes everything as received (the relay's behaviour before
// policies existed). strict pseudonymises every phone number, email and
// customer id the workbench sends (uphone, uemail, partnerId, uid, the
// agent's email, ANI, DNIS and the three DNs), keeps encryptUphone (the
// vendor's own ciphertext), drops sign (an MD5 over the agent's email that
// a dictionary would reverse), keeps the vendor's non-personal fields, and
// pseudonymises every other params field, custom ones included, and the
// token subject.
func Preset(name string) (Spec, error) {
	switch name {
	case PresetNone:
		return Spec{Name: PresetNone, Params: map[string]Rule{}}, nil
	case PresetStrict:
		s := Spec{
			Name:         PresetStrict,
			Params:       map[string]Rule{},
			Default:      Rule{Action: Pseudonym},
			AgentSubject: Rule{Action: Pseudonym},
		}
		for _, f := range []string{"uphone", "uemail", "email", "partnerId", "uid", "ANI", "DNIS", "thisDN", "otherDN", "thirdDN"} {
			s.Params[f] = Rule{Action: Pseudonym}
		}
		s.Params["sign"] = Rule{Action: Drop}
		for _, f := range []string{
			"encryptUphone", "gatewayNumber", "province", "city", "startTime", "timestamp",
			"companyId", "referenceID", "partyRole", "thisDNRole", "otherDNRole", "thirdDNRole",
			"agentID", "agentUUID", "thisQueues",
		} {
			s.Params[f] = Rule{Action: Keep}
		}
		return s, nil
	}
	return Spec{}, fmt.Errorf("unknown redaction preset %q (want %s)", name, strings.Join(Presets(), " or "))
}

// MinKeyBytes is the shortest pseudonym key accepted (256 bits).
const MinKeyBytes = 32

// Policy is a compiled Spec with its pseudonym key. It is immutable and
// safe for concurrent use. The nil *Policy is the preset none.
type Policy struct {
	spec    Spec
	key     []byte
	version string
	none    bool
}

// Compile checks s and binds it to key, which must be at least MinKeyBytes
// long when any rule pseudonymises (and is ignored otherwise).
func (s Spec) Compile(key []byte) (*Policy, error) {
	if s.Name == "" {
		s.Name = "custom"
	}
	for name, r := range s.Params {
		if structural[name] && r.Action != Keep {
			return nil, fmt.Errorf("params field %s: the relay correlates on it; it can only be kept", name)
		}
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("params field %s: %w", name, err)
		}
	}
	if err := s.Default.check(); err != nil {
		return nil, fmt.Errorf("default: %w", err)
	}
	if err := s.AgentSubject.check(); err != nil {
		return nil, fmt.Errorf("agentSubject: %w", err)
	}
	if s.Talk > Drop || s.Customer > Drop {
		return nil, fmt.Errorf("talk and customer can only be kept or dropped")
	}
	p := &Policy{spec: s}
	if s.uses(Pseudonym) {
		if len(key) < MinKeyBytes {
			return nil, fmt.Errorf("policy %s pseudonymises fields: it needs a pseudonym key of at least %d bytes", s.Name, MinKeyBytes)
		}
		p.key = append([]byte(nil), key...)
	}
	p.none = !s.changesAnything()
	p.version = s.Name + "-" + p.fingerprint()
	if p.none {
		p.version = PresetNone
	}
	return p, nil
}

func (r Rule) check() error {
	if r.Action > Pseudonym {
		return fmt.Errorf("unknown action %d", r.Action)
	}
	if r.Head < 0 || r.Tail < 0 || r.Head > 64 || r.Tail > 64 {
		return fmt.Errorf("mask head and tail must be 0 to 64")
	}
	return nil
}

func (s Spec) uses(a Action) bool {
	if s.Default.Action == a || s.AgentSubject.Action == a {
		return true
	}
	for _, r := range s.Params {
		if r.Action == a {
			return true
		}
	}
	return false
}

func (s Spec) changesAnything() bool {
	return s.uses(Drop) || s.uses(Mask) || s.uses(Pseudonym) || s.Talk == Drop || s.Customer == Drop
}

// fingerprint is 8 hex digits over the rules and the key's id, so that the
// published version changes when either does.
func (p *Policy) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "default=%s;agentSubject=%s;talk=%s;customer=%s;", p.spec.Default, p.spec.AgentSubject, p.spec.Talk, p.spec.Customer)
	names := make([]string, 0, len(p.spec.Params))
	for n := range p.spec.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s=%s;", n, p.spec.Params[n])
	}
	fmt.Fprintf(h, "key=%s", p.KeyID())
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// KeyID names the pseudonym key without revealing it: 8 hex digits of an
// HMAC of a fixed text under the key; "" when the policy has no key.
func (p *Policy) KeyID() string {
	if p == nil || len(p.key) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("callrelay pseudonym key id"))
	return hex.EncodeToString(m.Sum(nil)[:4])
}

// Name is the policy's name: a preset's, or the file's.
func (p *Policy) Name() string {
	if p == nil {
		return PresetNone
	}
	return p.spec.Name
}

// Version is what published messages carry in their "redaction" field:
// the name and 8 hex digits over the rules and the key id, e.g.
// "strict-1a2b3c4d".
func (p *Policy) Version() string {
	if p == nil {
		return PresetNone
	}
	return p.version
}

// None reports whether the policy publishes everything as received.
func (p *Policy) None() bool { return p == nil || p.none }

// DropsTalk and DropsCustomer report the policy's talk and customer actions.
func (p *Policy) DropsTalk() bool     { return p != nil && p.spec.Talk == Drop }
func (p *Policy) DropsCustomer() bool { return p != nil && p.spec.Customer == Drop }

// Field is one line of a policy's description.
type Field struct {
	Name string
	Rule Rule
}

// Describe lists the policy's rules (field names and actions, never
// values), sorted by name, for the start-up log: the params fields, then
// "*" (every other params field), "agent.subject", "talk" and "customer".
func (p *Policy) Describe() []Field {
	if p == nil {
		return nil
	}
	out := make([]Field, 0, len(p.spec.Params)+4)
	for n, r := range p.spec.Params {
		out = append(out, Field{Name: n, Rule: r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return append(out,
		Field{Name: "*", Rule: p.spec.Default},
		Field{Name: "agent.subject", Rule: p.spec.AgentSubject},
		Field{Name: "talk", Rule: Rule{Action: p.spec.Talk}},
		Field{Name: "customer", Rule: Rule{Action: p.spec.Customer}},
	)
}

// Counts returns how many rules use each action (params fields, the
// default, the agent subject, talk and customer), for the metric.
func (p *Policy) Counts() map[Action]int {
	c := map[Action]int{}
	for _, f := range p.Describe() {
		c[f.Rule.Action]++
	}
	return c
}

// rule returns the rule of params field name.
func (p *Policy) rule(name string) Rule {
	if r, ok := p.spec.Params[name]; ok {
		return r
	}
	if structural[name] {
		return Rule{}
	}
	return p.spec.Default
}
