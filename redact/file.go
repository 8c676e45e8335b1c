package redact

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// A policy file is YAML (or JSON, which YAML reads as well):
//
//	name: acme            # optional; names the policy in its published version
//	base: strict          # optional: the preset it starts from (none or strict)
//	default: pseudonym    # every params field not listed
//	mask: {head: 3, tail: 4}   # the shape of masks that do not give their own
//	params:
//	  uphone: mask
//	  DNIS: {action: mask, head: 0, tail: 4}
//	  orderNo: keep
//	agentSubject: pseudonym
//	talk: keep            # keep or drop
//	customer: keep        # keep or drop
//
// Every key is optional; a file with none of them is the base preset.

// FileError is an error in a policy file, with the line it is on.
type FileError struct {
	Path  string
	Line  int
	Field string
	Err   error
}

func (e *FileError) Error() string {
	loc := e.Path
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %v", loc, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", loc, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// LoadFile reads the policy file at path.
func LoadFile(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read redaction policy: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a policy file's contents; path is only used in errors.
func Parse(path string, data []byte) (Spec, error) {
	fail := func(n *yaml.Node, field string, err error) (Spec, error) {
		line := 0
		if n != nil {
			line = n.Line
		}
		return Spec{}, &FileError{Path: path, Line: line, Field: field, Err: err}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fail(nil, "", err)
	}
	if len(doc.Content) == 0 {
		return fail(nil, "", errors.New("the file is empty"))
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fail(root, "", errors.New("the file must be a mapping of keys to values"))
	}
	top := map[string]*yaml.Node{}
	keyLine := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "name", "base", "default", "mask", "params", "agentSubject", "talk", "customer":
		default:
			return fail(k, k.Value, errors.New("unknown key (want name, base, default, mask, params, agentSubject, talk or customer)"))
		}
		if _, dup := top[k.Value]; dup {
			return fail(k, k.Value, errors.New("given twice"))
		}
		top[k.Value], keyLine[k.Value] = v, k
	}

	spec, _ := Preset(PresetNone)
	if n := top["base"]; n != nil {
		s, err := Preset(n.Value)
		if err != nil || n.Kind != yaml.ScalarNode {
			return fail(n, "base", fmt.Errorf("want none or strict, got %q", n.Value))
		}
		spec = s
	}
	spec.Name = "custom"
	if n := top["name"]; n != nil {
		if n.Kind != yaml.ScalarNode || !validName(n.Value) {
			return fail(n, "name", errors.New("want 1 to 32 letters, digits, '_', '.' or '-'"))
		}
		spec.Name = n.Value
	}
	head, tail := DefaultHead, DefaultTail
	if n := top["mask"]; n != nil {
		var err error
		if head, tail, err = maskShape(n, head, tail); err != nil {
			return fail(n, "mask", err)
		}
	}
	rule := func(n *yaml.Node, field string) (Rule, *yaml.Node, error) {
		switch n.Kind {
		case yaml.ScalarNode:
			a, err := ParseAction(n.Value)
			return Rule{Action: a, Head: head, Tail: tail}, n, err
		case yaml.MappingNode:
			r := Rule{Head: head, Tail: tail}
			var an *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				switch k.Value {
				case "action":
					an = v
				case "head", "tail":
				default:
					return r, k, fmt.Errorf("unknown key %q (want action, head or tail)", k.Value)
				}
			}
			if an == nil {
				return r, n, errors.New("no action")
			}
			a, err := ParseAction(an.Value)
			if err != nil {
				return r, an, err
			}
			r.Action = a
			h, t, err := maskShape(n, head, tail)
			if err != nil {
				return r, n, err
			}
			r.Head, r.Tail = h, t
			return r, n, nil
		}
		return Rule{}, n, errors.New("want an action or {action, head, tail}")
	}
	if n := top["default"]; n != nil {
		r, at, err := rule(n, "default")
		if err != nil {
			return fail(at, "default", err)
		}
		spec.Default = r
	}
	if n := top["agentSubject"]; n != nil {
		r, at, err := rule(n, "agentSubject")
		if err != nil {
			return fail(at, "agentSubject", err)
		}
		spec.AgentSubject = r
	}
	for _, name := range []string{"talk", "customer"} {
		n := top[name]
		if n == nil {
			continue
		}
		a, err := ParseAction(n.Value)
		if err == nil && a > Drop {
			err = errors.New("want keep or drop")
		}
		if err != nil {
			return fail(n, name, err)
		}
		if name == "talk" {
			spec.Talk = a
		} else {
			spec.Customer = a
		}
	}
	if n := top["params"]; n != nil {
		if n.Kind != yaml.MappingNode {
			return fail(n, "params", errors.New("want a mapping of field names to actions"))
		}
		params := make(map[string]Rule, len(spec.Params)+len(n.Content)/2)
		for k, v := range spec.Params {
			params[k] = v
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			field := "params." + k.Value
			if k.Value == "" {
				return fail(k, "params", errors.New("empty field name"))
			}
			if seen[k.Value] {
				return fail(k, field, errors.New("given twice"))
			}
			seen[k.Value] = true
			r, at, err := rule(v, field)
			if err != nil {
				return fail(at, field, err)
			}
			if Structural(k.Value) && r.Action != Keep {
				return fail(k, field, errors.New("the relay correlates on this field; it can only be kept"))
			}
			if err := r.check(); err != nil {
				return fail(at, field, err)
			}
			params[k.Value] = r
		}
		spec.Params = params
	}
	return spec, nil
}

// maskShape reads head and tail from a mapping node, defaulting to the
// values given.
func maskShape(n *yaml.Node, head, tail int) (int, int, error) {
	if n.Kind != yaml.MappingNode {
		return 0, 0, errors.New("want {head: N, tail: N}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value != "head" && k.Value != "tail" {
			if k.Value == "action" {
				continue
			}
			return 0, 0, fmt.Errorf("unknown key %q (want head or tail)", k.Value)
		}
		x, err := strconv.Atoi(v.Value)
		if err != nil || x < 0 || x > 64 {
			return 0, 0, fmt.Errorf("%s must be a whole number from 0 to 64", k.Value)
		}
		if k.Value == "head" {
			head = x
		} else {
			tail = x
		}
	}
	return head, tail, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
