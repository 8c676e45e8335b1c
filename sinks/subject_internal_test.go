package sinks

import "testing"

func TestSubjectCovers(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.c", false},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b", false},
		{"a.>", "a.b", true},
		{"a.>", "a.b.c", true},
		{"a.>", "a.*", true},
		{"a.>", "a.>", true},
		{"a.>", "a", false},
		{">", "a", true},
		{">", ">", true},
		{"a.*", "a.b", true},
		{"a.*", "a.*", true},
		{"a.*", "a.>", false},
		{"a.*", "a.b.c", false},
		{"a.b", "a.*", false},
		{"a.*.c", "a.b.c", true},
		{"a.*.>", "a.b.c.d", true},
		{"a.*.>", "a.b", false},
	}
	for _, tt := range tests {
		if got := subjectCovers(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("subjectCovers(%q, %q): got %t, want %t", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

func TestValidSubject(t *testing.T) {
	tests := []struct {
		subject string
		want    bool
	}{
		{"agentcall.>", true},
		{"agentcall.*.call", true},
		{"a", true},
		{"", false},
		{"a..b", false},
		{".a", false},
		{"a.", false},
		{"a.>.b", false},
		{"a.b*", false},
		{"a b", false},
	}
	for _, tt := range tests {
		if got := validSubject(tt.subject); got != tt.want {
			t.Errorf("validSubject(%q): got %t, want %t", tt.subject, got, tt.want)
		}
	}
}
