package sinks

import "strings"

// coveredBy reports whether some pattern in patterns matches every subject
// that subject (itself possibly a wildcard) can match.
func coveredBy(subject string, patterns []string) bool {
	for _, p := range patterns {
		if subjectCovers(p, subject) {
			return true
		}
	}
	return false
}

// subjectCovers reports whether the NATS subject pattern matches every
// subject that subject matches: "agentcall.>" covers "agentcall.*.call" and
// "agentcall.>", "*" covers a single literal token or "*", and a literal
// token covers only itself.
func subjectCovers(pattern, subject string) bool {
	pt := strings.Split(pattern, ".")
	st := strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			// ">" needs at least one more token, of any kind.
			return len(st) > i
		}
		if i >= len(st) {
			return false
		}
		s := st[i]
		switch {
		case s == ">":
			// Only ">" covers ">", handled above.
			return false
		case p == "*":
			// "*" covers any single token, literal or "*".
		case p != s:
			return false
		}
	}
	return len(pt) == len(st)
}

// validSubject reports whether s is a well-formed NATS subject or subject
// pattern: non-empty tokens without whitespace, wildcards only as whole
// tokens, and ">" only as the last token.
func validSubject(s string) bool {
	if s == "" {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return false
		case strings.ContainsAny(t, " \t\r\n"):
			return false
		case t == ">":
			if i != len(tokens)-1 {
				return false
			}
		case t != "*" && strings.ContainsAny(t, "*>"):
			return false
		}
	}
	return true
}
