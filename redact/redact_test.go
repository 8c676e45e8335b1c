package redact_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/quick"

	"github.com/callrelay/callrelay/redact"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func MustPolicy(tb testing.TB, name string, key []byte) *redact.Policy {
	tb.Helper()
	spec, err := redact.Preset(name)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := spec.Compile(key)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func decode(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("output is not a JSON object: %v\n%s", err, b)
	}
	return m
}

func TestStrictParams(t *testing.T) {
	p := MustPolicy(t, redact.PresetStrict, testKey)
	in := []byte(`{"partnerId":"crm-77","uid":"u1","uemail":"ann@example.com","email":"agent@cc.example",
		"sign":"0f3c","timestamp":1764841800000,"uphone":"158****2496","encryptUphone":"QkFTRTY0",
		"callType":2,"callId":"735","province":"Zhejiang","orderNo":"A-1","vip":true,"note":null,
		"ANI":"15812342496","callID":"735","messageID":"EventRinging","agentID":"1001"}`)
	out, err := p.Params(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, out)
	for _, f := range []string{"partnerId", "uid", "uemail", "email", "uphone", "ANI", "orderNo", "vip"} {
		v, _ := got[f].(string)
		if !strings.HasPrefix(v, redact.PseudonymPrefix) {
			t.Errorf("%s: got %v, want a pseudonym", f, got[f])
		}
	}
	keep := map[string]any{"encryptUphone": "QkFTRTY0", "callType": float64(2), "callId": "735", "callID": "735",
		"province": "Zhejiang", "messageID": "EventRinging", "agentID": "1001", "timestamp": float64(1764841800000), "note": nil}
	for f, want := range keep {
		if v, ok := got[f]; !ok || v != want {
			t.Errorf("%s: got %v, want %v kept", f, v, want)
		}
	}
	if _, ok := got["sign"]; ok {
		t.Errorf("sign: got %v, want dropped", got["sign"])
	}
	for _, secret := range []string{"crm-77", "ann@example.com", "agent@cc.example", "15812342496", "158****2496", "0f3c"} {
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("output holds %q:\n%s", secret, out)
		}
	}
	// Order of the members is kept.
	if i, j := bytes.Index(out, []byte(`"partnerId"`)), bytes.Index(out, []byte(`"agentID"`)); i < 0 || j < i {
		t.Errorf("members reordered: %s", out)
	}
}

func TestNoneKeepsBytes(t *testing.T) {
	p := MustPolicy(t, redact.PresetNone, nil)
	if !p.None() {
		t.Fatal("none: None() = false")
	}
	in := []byte(`{"uphone":"15812342496", "x" : [1,2]}`)
	out, err := p.Params(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"uphone":"15812342496","x":[1,2]}` {
		t.Errorf("got %s", out)
	}
}

func TestPseudonymJoinsAcrossFields(t *testing.T) {
	p := MustPolicy(t, redact.PresetStrict, testKey)
	a, _ := p.Params(nil, []byte(`{"uphone":"15812342496"}`))
	b, _ := p.Params(nil, []byte(`{"ANI":"1581234\u0032496"}`))
	if decode(t, a)["uphone"] != decode(t, b)["ANI"] {
		t.Errorf("uphone %s and ANI %s of one number differ", a, b)
	}
}

func TestPseudonymProperties(t *testing.T) {
	other := bytes.Repeat([]byte("k"), 32)
	p1 := MustPolicy(t, redact.PresetStrict, testKey)
	p1again := MustPolicy(t, redact.PresetStrict, append([]byte(nil), testKey...))
	p2 := MustPolicy(t, redact.PresetStrict, other)
	sameKey := func(v string) bool { return p1.Pseudonym(v) == p1again.Pseudonym(v) }
	if err := quick.Check(sameKey, nil); err != nil {
		t.Errorf("same key, same input, different pseudonyms: %v", err)
	}
	otherKey := func(v string) bool { return p1.Pseudonym(v) != p2.Pseudonym(v) }
	if err := quick.Check(otherKey, nil); err != nil {
		t.Errorf("different keys gave the same pseudonym: %v", err)
	}
	distinct := func(a, b string) bool { return a == b || p1.Pseudonym(a) != p1.Pseudonym(b) }
	if err := quick.Check(distinct, nil); err != nil {
		t.Errorf("different inputs gave the same pseudonym: %v", err)
	}
	if got := p1.Pseudonym("x"); len(got) != len(redact.PseudonymPrefix)+24 || strings.ToLower(got) != got {
		t.Errorf("pseudonym %q: want %s and 24 lower-case characters", got, redact.PseudonymPrefix)
	}
	if p1.Version() == p2.Version() || p1.KeyID() == p2.KeyID() {
		t.Errorf("versions %s and %s under different keys are equal", p1.Version(), p2.Version())
	}
	if p1.Version() != p1again.Version() {
		t.Errorf("versions %s and %s under one key differ", p1.Version(), p1again.Version())
	}
}

func TestMasked(t *testing.T) {
	for _, tc := range []struct {
		in         string
		head, tail int
		want       string
	}{
		{"15812342496", 3, 4, "158****2496"},
		{"ann@example.com", 1, 0, "a**************"},
		{"1234567", 3, 4, "*******"},
		{"张三丰先生", 1, 1, "张***生"},
		{"", 3, 4, ""},
	} {
		if got := redact.Masked(tc.in, tc.head, tc.tail); got != tc.want {
			t.Errorf("Masked(%q, %d, %d): got %q, want %q", tc.in, tc.head, tc.tail, got, tc.want)
		}
	}
}

func TestParseFile(t *testing.T) {
	spec, err := redact.Parse("p.yaml", []byte(`
name: acme
base: strict
mask: {head: 2, tail: 2}
params:
  uphone: mask
  DNIS: {action: mask, head: 0, tail: 4}
  orderNo: keep
  sign: keep
agentSubject: drop
customer: drop
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := spec.Compile(testKey)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := p.Params(nil, []byte(`{"uphone":"15812342496","DNIS":"057188886666","orderNo":"A-1","uemail":"a@b.c","sign":"ab"}`))
	got := decode(t, out)
	want := map[string]any{"uphone": "15*******96", "DNIS": "********6666", "orderNo": "A-1", "sign": "ab"}
	for f, w := range want {
		if got[f] != w {
			t.Errorf("%s: got %v, want %v", f, got[f], w)
		}
	}
	if v, _ := got["uemail"].(string); !strings.HasPrefix(v, redact.PseudonymPrefix) {
		t.Errorf("uemail from the strict base: got %v, want a pseudonym", got["uemail"])
	}
	if p.Subject("ann@example.com") != "" || !p.DropsCustomer() || p.DropsTalk() {
		t.Errorf("agentSubject drop, customer drop, talk keep: got subject %q, customer %v, talk %v", p.Subject("ann@example.com"), p.DropsCustomer(), p.DropsTalk())
	}
	if !strings.HasPrefix(p.Version(), "acme-") {
		t.Errorf("version %q: want acme-...", p.Version())
	}
	// JSON is YAML too.
	if _, err := redact.Parse("p.json", []byte(`{"base":"none","params":{"uphone":"drop"}}`)); err != nil {
		t.Errorf("JSON policy: %v", err)
	}
}

func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"unknown action", "params:\n  uphone: hide\n", `p.yaml:2: params.uphone: unknown action "hide"`},
		{"structural", "base: none\nparams:\n  x: keep\n  callID: drop\n", "p.yaml:4: params.callID: the relay correlates on this field"},
		{"unknown key", "base: none\nfields: {}\n", "p.yaml:2: fields: unknown key"},
		{"bad base", "base: lax\n", `p.yaml:1: base: want none or strict, got "lax"`},
		{"bad head", "params:\n  a: keep\n  uphone: {action: mask, head: -1}\n", "p.yaml:3: params.uphone: head must be a whole number"},
		{"talk mask", "talk: mask\n", "p.yaml:1: talk: want keep or drop"},
		{"twice", "params:\n  uphone: drop\n  uphone: keep\n", "p.yaml:3: params.uphone: given twice"},
		{"no action", "default: {head: 1}\n", "p.yaml:1: default: no action"},
		{"syntax", "params: [\n", "p.yaml: yaml:"},
		{"empty", "", "p.yaml: the file is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redact.Parse("p.yaml", []byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			var fe *redact.FileError
			if !errors.As(err, &fe) {
				t.Errorf("got %T, want *redact.FileError", err)
			}
		})
	}
}

func TestCompileNeedsKey(t *testing.T) {
	spec, _ := redact.Preset(redact.PresetStrict)
	if _, err := spec.Compile([]byte("short")); err == nil || !strings.Contains(err.Error(), "pseudonym key of at least 32 bytes") {
		t.Errorf("got %v, want a refusal naming the key length", err)
	}
	spec, _ = redact.Parse("p.yaml", []byte("params:\n  uphone: drop\n"))
	if _, err := spec.Compile(nil); err != nil {
		t.Errorf("a policy without pseudonyms needs no key: %v", err)
	}
}

func TestData(t *testing.T) {
	p := MustPolicy(t, redact.PresetStrict, testKey)
	out, ok := p.Data(nil, []byte(`{"source":"agentCall","type":"iframeParams","params":{"uphone":"15812342496","callId":"9"}}`))
	if !ok {
		t.Fatal("Data: not ok")
	}
	if bytes.Contains(out, []byte("15812342496")) || !bytes.Contains(out, []byte(`"callId":"9"`)) || !bytes.Contains(out, []byte(`"source":"agentCall"`)) {
		t.Errorf("got %s", out)
	}
	for _, bad := range []string{`[1]`, `{"source":"agentCall"}`, `{"params":"x"}`, `{"params":{`} {
		if _, ok := p.Data(nil, []byte(bad)); ok {
			t.Errorf("Data(%s): ok, want refused", bad)
		}
	}
}

func FuzzParams(f *testing.F) {
	f.Add([]byte(`{"uphone":"15812342496","a":{"b":[1,"x"]},"n":1e3}`))
	f.Add([]byte(`{"\u0075phone":"1"}`))
	p := MustPolicy(f, redact.PresetStrict, testKey)
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		out, err := p.Params(nil, in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Params(%s) = %s: not JSON", in, out)
		}
	})
}
