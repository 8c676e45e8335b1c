package relay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/callrelay/callrelay/relay"
)

func TestConfigValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		cfg  relay.Config
	}{
		{"zero value uses defaults", relay.Config{}},
		{"everything set", relay.Config{
			SubjectPrefix:   "acme.agentcall",
			Tenant:          "tenant_01-eu",
			AllowedOrigins:  []string{"https://crm.example.com", "https://*.example.org:8443"},
			AllowNoOrigin:   true,
			MaxMessageBytes: 32 << 10,
			MaxBatchBytes:   512 << 10,
			MaxBatchEvents:  100,
			DedupWindow:     time.Minute,
			DedupMax:        1000,
			PublishTimeout:  time.Second,
			PingInterval:    10 * time.Second,
			PongWait:        30 * time.Second,
			WriteWait:       5 * time.Second,
			Version:         "v1.2.3",
		}},
		{"signs required with a key", relay.Config{SignMode: relay.SignRequire, SobotSysNum: "800123", SobotKey: "k", SignWindow: time.Minute}},
		{"signs marked without a key", relay.Config{SignMode: relay.SignMark, SobotSysNum: "800123"}},
		{"bounds set", relay.Config{MaxTalkBytes: 4096, MaxClockSkew: time.Hour, RateLimit: 0.5, RateBurst: 1, MaxConnections: 1}},
		{"message bytes at 16 MiB", relay.Config{MaxMessageBytes: 16 << 20, MaxBatchBytes: 16 << 20}},
		{"batch bytes equal to message bytes", relay.Config{MaxMessageBytes: 2 << 20, MaxBatchBytes: 2 << 20}},
		{"pong wait just above ping interval", relay.Config{PingInterval: time.Second, PongWait: time.Second + time.Nanosecond}},
		{"ping interval below the default pong wait", relay.Config{PingInterval: 59 * time.Second}},
		{"pong wait above the default ping interval", relay.Config{PongWait: 26 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err != nil {
				t.Fatalf("Validate: got %v, want nil", err)
			}
		})
	}
}

func TestConfigValidateRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  relay.Config
		want []string // each must appear in the error
	}{
		{"prefix with a space", relay.Config{SubjectPrefix: "agent call"}, []string{"subject prefix"}},
		{"prefix with a wildcard", relay.Config{SubjectPrefix: "agentcall.>"}, []string{"subject prefix"}},
		{"prefix with an empty token", relay.Config{SubjectPrefix: "acme..agentcall"}, []string{"subject prefix"}},
		{"tenant with a dot", relay.Config{Tenant: "acme.eu"}, []string{"tenant"}},
		{"tenant too long", relay.Config{Tenant: strings.Repeat("t", 65)}, []string{"tenant"}},
		{"every origin", relay.Config{AllowedOrigins: []string{"*"}}, []string{"allowed origin", `"*"`}},
		{"origin pattern of one label", relay.Config{AllowedOrigins: []string{"https://*.com"}}, []string{"allowed origin", "https://*.com"}},
		{"origin with a path", relay.Config{AllowedOrigins: []string{"https://crm.example.com/app"}}, []string{"allowed origin", "https://crm.example.com/app"}},
		{"negative max message bytes", relay.Config{MaxMessageBytes: -1}, []string{"max message bytes", "positive"}},
		{"negative max batch bytes", relay.Config{MaxBatchBytes: -1}, []string{"max batch bytes", "positive"}},
		{"negative max batch events", relay.Config{MaxBatchEvents: -1}, []string{"max batch events", "positive"}},
		{"negative dedup max", relay.Config{DedupMax: -1}, []string{"dedup max", "positive"}},
		{"negative dedup window", relay.Config{DedupWindow: -time.Second}, []string{"dedup window", "positive"}},
		{"negative publish timeout", relay.Config{PublishTimeout: -time.Second}, []string{"publish timeout", "positive"}},
		{"negative ping interval", relay.Config{PingInterval: -time.Second}, []string{"ping interval", "positive"}},
		{"negative pong wait", relay.Config{PongWait: -time.Second}, []string{"pong wait", "positive"}},
		{"negative write wait", relay.Config{WriteWait: -time.Second}, []string{"write wait", "positive"}},
		{"batch bytes below message bytes", relay.Config{MaxMessageBytes: 2 << 20, MaxBatchBytes: 1 << 20},
			[]string{"max batch bytes", "at least max message bytes", "1048576", "2097152"}},
		{"batch bytes below the default message bytes", relay.Config{MaxBatchBytes: 32 << 10},
			[]string{"max batch bytes", "at least max message bytes", "65536"}},
		{"default batch bytes below message bytes", relay.Config{MaxMessageBytes: 2 << 20},
			[]string{"max batch bytes", "at least max message bytes"}},
		{"pong wait equal to ping interval", relay.Config{PingInterval: 30 * time.Second, PongWait: 30 * time.Second},
			[]string{"pong wait", "ping interval"}},
		{"pong wait below ping interval", relay.Config{PingInterval: 30 * time.Second, PongWait: 20 * time.Second},
			[]string{"pong wait", "ping interval"}},
		{"pong wait below the default ping interval", relay.Config{PongWait: 20 * time.Second},
			[]string{"pong wait", "ping interval"}},
		{"message bytes above 16 MiB", relay.Config{MaxMessageBytes: 16<<20 + 1, MaxBatchBytes: 32 << 20},
			[]string{"max message bytes", "16 MiB"}},
		{"unknown sign mode", relay.Config{SignMode: "strict"}, []string{"sobot sign", `"strict"`, "off, mark or require"}},
		{"sign check without sysnum", relay.Config{SignMode: relay.SignRequire}, []string{"sobot sysnum", "required"}},
		{"sysnum with signs off", relay.Config{SobotSysNum: "800123"}, []string{"sobot sysnum", "sobot sign"}},
		{"key with signs off", relay.Config{SobotKey: "k3y-Secret"}, []string{"sobot key", "sobot sign"}},
		{"negative sign window", relay.Config{SignMode: relay.SignMark, SobotSysNum: "1", SignWindow: -time.Second}, []string{"sign window", "positive"}},
		{"negative talk bytes", relay.Config{MaxTalkBytes: -1}, []string{"max talk bytes", "positive"}},
		{"negative clock skew", relay.Config{MaxClockSkew: -time.Hour}, []string{"max clock skew", "positive"}},
		{"negative rate", relay.Config{RateLimit: -1}, []string{"rate limit", "positive"}},
		{"negative burst", relay.Config{RateBurst: -1}, []string{"rate burst", "positive"}},
		{"negative connections", relay.Config{MaxConnections: -1}, []string{"max connections", "positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil {
				t.Fatalf("Validate: got nil, want an error mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: got %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		cfg  relay.Config
		want []string
	}{
		{"independent problems", relay.Config{
			SubjectPrefix:   "agent call",
			AllowedOrigins:  []string{"*"},
			MaxMessageBytes: 16<<20 + 1,
			MaxBatchEvents:  -1,
			DedupWindow:     -time.Second,
			PingInterval:    time.Minute,
			PongWait:        time.Second,
		}, []string{
			"subject prefix",
			"allowed origin",
			"above 16 MiB",
			"max batch events",
			"dedup window",
			"at least max message bytes",
			"longer than the ping interval",
		}},
		// A bad prefix must not hide a bad tenant, nor one bad origin another.
		{"bad prefix and bad tenant", relay.Config{SubjectPrefix: "agent call", Tenant: "acme.eu"},
			[]string{"subject prefix", "tenant"}},
		{"two bad origins", relay.Config{AllowedOrigins: []string{"https://*.com", "ftp://crm.example.com"}},
			[]string{"https://*.com", "ftp://crm.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil {
				t.Fatalf("Validate: got nil, want an error mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: got %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

// The Sobot key is a secret: no message shows it.
func TestConfigValidateNeverShowsTheSobotKey(t *testing.T) {
	err := relay.Config{SobotKey: "k3y-Secret", SignMode: "bogus"}.Validate()
	if err == nil || strings.Contains(err.Error(), "k3y-Secret") {
		t.Fatalf("got %v, want an error without the key", err)
	}
}
