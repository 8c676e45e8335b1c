package demo_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/callrelay/callrelay/demo"
	"github.com/callrelay/callrelay/relay"
)

// recorder is a sink that takes every message at once and remembers it.
type recorder struct {
	mu       sync.Mutex
	subjects []string
}

func (r *recorder) Publish(env relay.Envelope, c relay.Completion, tag int) {
	r.mu.Lock()
	r.subjects = append(r.subjects, env.Subject)
	r.mu.Unlock()
	c.Published(tag, false, nil)
}

func (r *recorder) Ready(context.Context) error { return nil }

// outcome is a Completion that keeps the last result.
type outcome struct {
	tag int
	err error
	n   int
}

func (o *outcome) Published(tag int, _ bool, err error) { o.tag, o.err, o.n = tag, err, o.n+1 }

func TestOutageFailsEveryPublishWhilePaused(t *testing.T) {
	next := &recorder{}
	o := demo.NewOutage(next)
	publish := func(subject string) *outcome {
		c := &outcome{}
		o.Publish(relay.Envelope{Subject: subject, ID: "x", Data: []byte(`{}`)}, c, 7)
		return c
	}
	if c := publish("a"); c.err != nil || c.n != 1 || c.tag != 7 {
		t.Fatalf("switch off: got err %v after %d answers (tag %d), want one nil answer with tag 7", c.err, c.n, c.tag)
	}
	o.Pause(true)
	if !o.Paused() {
		t.Fatal("Paused: got false after Pause(true)")
	}
	if c := publish("b"); !errors.Is(c.err, demo.ErrOutage) || c.n != 1 || c.tag != 7 {
		t.Errorf("switch on: got err %v after %d answers, want ErrOutage once", c.err, c.n)
	}
	if err := o.Ready(context.Background()); !errors.Is(err, demo.ErrOutage) {
		t.Errorf("Ready while paused: got %v, want ErrOutage", err)
	}
	o.Pause(false)
	if c := publish("c"); c.err != nil {
		t.Errorf("switch off again: got %v", c.err)
	}
	if err := o.Ready(context.Background()); err != nil {
		t.Errorf("Ready: got %v", err)
	}
	if got := strings.Join(next.subjects, ","); got != "a,c" {
		t.Errorf("the wrapped sink got %s, want a,c (nothing while paused)", got)
	}
}

// resumingSink is a recorder that can report a recovery of its own.
type resumingSink struct {
	recorder
	fns []func()
}

func (r *resumingSink) OnResume(fn func()) { r.fns = append(r.fns, fn) }
func (r *resumingSink) recover() {
	for _, fn := range r.fns {
		fn()
	}
}

// The end of the simulated outage is told like a real recovery, and the
// wrapped sink's recoveries are passed on only while the switch is off.
func TestOutageTellsWhenTheSinkIsBack(t *testing.T) {
	next := &resumingSink{}
	o := demo.NewOutage(next)
	var resumes int
	o.OnResume(func() { resumes++ })
	for _, step := range []struct {
		do   func()
		want int
	}{
		{func() { o.Pause(false) }, 0}, // already off
		{func() { o.Pause(true) }, 0},
		{func() { o.Pause(true) }, 0},
		{next.recover, 0}, // NATS is back, but the switch still holds the outage
		{func() { o.Pause(false) }, 1},
		{func() { o.Pause(false) }, 1},
		{next.recover, 2},
	} {
		step.do()
		if resumes != step.want {
			t.Fatalf("got %d resumes, want %d", resumes, step.want)
		}
	}
}

func TestOutageSwitchAnswersOnlyThisMachine(t *testing.T) {
	nc := MustNATS(t)
	o := demo.NewOutage(&recorder{})
	d, err := demo.New(nc, demo.Config{Subject: "agentcall.default.>", WorkbenchURL: "http://127.0.0.1:8081/", Outage: o, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	do := func(method, host, origin, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+host+"/demo/outage", strings.NewReader(body))
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	for _, tc := range []struct {
		name, method, host, origin, body string
		code                             int
		want                             string
		paused                           bool
	}{
		{"state", "GET", "127.0.0.1:8080", "", "", 200, `{"down":false}`, false},
		{"switch on from the page", "POST", "127.0.0.1:8080", "http://127.0.0.1:8080", `{"down":true}`, 200, `{"down":true}`, true},
		{"another local page", "POST", "127.0.0.1:8080", "http://127.0.0.1:3000", `{"down":false}`, 403, "", true},
		{"a name that is not loopback", "POST", "demo.example.com", "http://demo.example.com", `{"down":false}`, 403, "", true},
		{"a bad body", "POST", "localhost:8080", "http://localhost:8080", `down`, 400, "", true},
		{"PUT", "PUT", "127.0.0.1:8080", "", `{"down":false}`, 405, "", true},
		{"switch off with curl", "POST", "[::1]:8080", "", `{"down":false}`, 200, `{"down":false}`, false},
	} {
		code, body := do(tc.method, tc.host, tc.origin, tc.body)
		if code != tc.code || (tc.want != "" && body != tc.want) || o.Paused() != tc.paused {
			t.Errorf("%s: got %d %s paused=%v, want %d %s paused=%v", tc.name, code, body, o.Paused(), tc.code, tc.want, tc.paused)
		}
	}

	// Without an Outage there is no switch.
	_, ts := MustDemo(t, nc, 0)
	res, err := http.Get(ts.URL + "/demo/outage")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /demo/outage without an Outage: got %d, want 404", res.StatusCode)
	}
}
