package main_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A wrong redaction setting stops the relay before anything listens, with a
// message naming the flag (and, for a policy file, the line and field); the
// key never appears in any output.
func TestRedactionConfigErrors(t *testing.T) {
	bin := MustBuild(t)
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("base: strict\nparams:\n  orderNo: keep\n  callID: pseudonym\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const key = "a-secret-key-that-is-long-enough-0123456789"
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"unknown preset", []string{"--redaction", "lax"}, nil, `--redaction "lax": want none or strict`},
		{"strict without key", []string{"--redaction", "strict"}, nil, "--pseudonym-key (RELAY_PSEUDONYM_KEY): policy strict pseudonymises fields: it needs a pseudonym key of at least 32 bytes"},
		{"short key", []string{"--redaction", "strict"}, []string{"RELAY_PSEUDONYM_KEY=short"}, "--pseudonym-key (RELAY_PSEUDONYM_KEY)"},
		{"file error", []string{"--redaction-file", policy}, []string{"RELAY_PSEUDONYM_KEY=" + key}, "--redaction-file: " + policy + ":4: params.callID: the relay correlates on this field; it can only be kept"},
		{"both", []string{"--redaction", "strict", "--redaction-file", policy}, nil, "--redaction and --redaction-file: give one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--demo", "off", "--data-dir", filepath.Join(t.TempDir(), "d")}, tc.args...)
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("got %v, want exit code 1; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("got:\n%s\nwant a message containing %q", out, tc.want)
			}
			if strings.Contains(string(out), key) {
				t.Errorf("the key appears in the output:\n%s", out)
			}
		})
	}
}

// At start the relay logs the policy in force: field names, actions and
// the key's id, never the key.
func TestRedactionLoggedAtStart(t *testing.T) {
	bin := MustBuild(t)
	const key = "another-secret-key-long-enough-0123456789"
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--demo", "off",
		"--data-dir", filepath.Join(t.TempDir(), "d"), "--redaction", "strict")
	cmd.Env = append(os.Environ(), "RELAY_PSEUDONYM_KEY="+key)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "personal-data policy") {
				found <- sc.Text()
				return
			}
		}
	}()
	select {
	case line := <-found:
		for _, want := range []string{`"policy":"strict"`, `"version":"strict-`, `"pseudonym_key_id":"`, `"uphone":"pseudonym"`, `"sign":"drop"`, `"encryptUphone":"keep"`, `"*":"pseudonym"`} {
			if !strings.Contains(line, want) {
				t.Errorf("log line lacks %s:\n%s", want, line)
			}
		}
		if strings.Contains(line, key) {
			t.Errorf("the key is logged:\n%s", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no personal-data policy log line within 20s")
	}
}
