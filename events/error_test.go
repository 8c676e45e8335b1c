package events_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/callrelay/callrelay/events"
)

func TestError(t *testing.T) {
	e := events.Errorf(events.EInvalidField, "params.%s must be %s", "uphone", "a string or null")
	tests := []struct {
		name        string
		err         error
		code, msg   string
		errorString string
	}{
		{"direct", e, "invalid_field", "params.uphone must be a string or null", "invalid_field: params.uphone must be a string or null"},
		{"wrapped", fmt.Errorf("parse event: %w", e), "invalid_field", "params.uphone must be a string or null", "parse event: invalid_field: params.uphone must be a string or null"},
		{"no args", events.Errorf(events.ETooLarge, "too big"), "too_large", "too big", "too_large: too big"},
		{"plain error", errors.New("boom"), "", "", "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode: got %q, want %q", got, tt.code)
			}
			if got := events.ErrorMessage(tt.err); got != tt.msg {
				t.Errorf("ErrorMessage: got %q, want %q", got, tt.msg)
			}
			if got := tt.err.Error(); got != tt.errorString {
				t.Errorf("Error: got %q, want %q", got, tt.errorString)
			}
		})
	}
	if got := events.ErrorCode(nil); got != "" {
		t.Errorf("ErrorCode(nil): got %q, want empty", got)
	}
	if got := events.ErrorMessage(nil); got != "" {
		t.Errorf("ErrorMessage(nil): got %q, want empty", got)
	}
}
