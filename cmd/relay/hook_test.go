package main

import "testing"

// --demo auto turns the demo on only where nobody else can reach it: the
// embedded NATS server and a loopback HTTP address.
func TestDemoAutoOnlyOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr, natsURL, demo string
		want                bool
	}{
		{"127.0.0.1:8080", "", "auto", true},
		{"localhost:8080", "", "auto", true},
		{"[::1]:8080", "", "auto", true},
		{"0.0.0.0:8080", "", "auto", false},
		{":8080", "", "auto", false},
		{"10.1.2.3:8080", "", "auto", false},
		{"127.0.0.1:8080", "nats://nats:4222", "auto", false},
		{"0.0.0.0:8080", "", "on", true},
		{"127.0.0.1:8080", "", "off", false},
	} {
		s := serveCmd{Addr: tc.addr, NatsURL: tc.natsURL, Demo: tc.demo}
		if got := s.demoOn(); got != tc.want {
			t.Errorf("--addr %s --nats-url %q --demo %s: got demo %v, want %v", tc.addr, tc.natsURL, tc.demo, got, tc.want)
		}
	}
}
