package bench

import (
	"strings"
	"testing"
)

func TestParseBinary(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Binary
		wantErr bool
	}{
		{"base=/work/bin/relay-base", Binary{"base", "/work/bin/relay-base"}, false},
		{"/usr/local/bin/relay", Binary{"relay", "/usr/local/bin/relay"}, false},
		{"a=b=c", Binary{"a", "b=c"}, false},
		{"=/x", Binary{}, true},
		{"x=", Binary{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseBinary(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %+v, %v, want %+v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := DefaultConfig()
	good.Relays = []Binary{{"self", "/bin/relay"}}
	good.Self = "/bin/relay"
	if err := good.Validate(); err != nil {
		t.Fatalf("default configuration: %v", err)
	}
	if err := good.Quick().Validate(); err != nil {
		t.Fatalf("quick configuration: %v", err)
	}
	bad := good
	bad.Duration = 0
	bad.Runs = 0
	bad.Rates = []int{10}
	bad.Only = []string{"nope"}
	bad.Relays = append(bad.Relays, Binary{"self", "/other"})
	err := bad.Validate()
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{"durations", "runs 0", "rate 10", `"nope"`, `label "self" used twice`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestSelection(t *testing.T) {
	for _, tc := range []struct {
		only               []string
		main, open, ws1x50 bool
	}{
		{nil, true, true, true},
		{[]string{"open"}, false, true, false},
		{[]string{"main"}, true, false, true},
		{[]string{"ws-1x50", "cold"}, true, false, true},
		{[]string{"post"}, true, false, false},
	} {
		c := Config{Only: tc.only}
		if c.selected(mainSection) != tc.main || c.selected(openSection) != tc.open || c.scenarioSelected("ws-1x50") != tc.ws1x50 {
			t.Errorf("--only %v: got main %v, open %v, ws-1x50 %v", tc.only, c.selected(mainSection), c.selected(openSection), c.scenarioSelected("ws-1x50"))
		}
	}
}
