package deploy_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// No Docker engine runs where the tests run, so the Dockerfile is checked
// by reading it: a multi-stage build of a static binary from pinned base
// images, a final stage that runs the relay as a non-root user, and the
// settings a container needs.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	var froms []string
	var final []string // instructions of the last stage
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			froms = append(froms, line)
			final = nil
		}
		final = append(final, line)
	}
	if len(froms) < 2 {
		t.Fatalf("got %d FROM lines, want a multi-stage build", len(froms))
	}
	pinned := regexp.MustCompile(`^FROM [^\s:@]+(:[^\s:@]+)(@sha256:[a-f0-9]{64})?( AS \w+)?$`)
	for _, f := range froms {
		if m := pinned.FindStringSubmatch(f); m == nil || m[1] == ":latest" {
			t.Errorf("%q: want an image with an explicit tag (not latest)", f)
		}
	}
	if !regexp.MustCompile(`^FROM golang:1\.26(\.\d+)?-\S+ AS build$`).MatchString(froms[0]) {
		t.Errorf("build stage %q: want golang:1.26.x, the go.mod's Go", froms[0])
	}
	last := froms[len(froms)-1]
	if !strings.Contains(last, "distroless/static") && !strings.Contains(last, "scratch") {
		t.Errorf("final stage %q: want distroless static or scratch", last)
	}
	if !strings.Contains(text, "CGO_ENABLED=0") || !strings.Contains(text, "./cmd/relay") {
		t.Error("the binary is not built static (CGO_ENABLED=0) from ./cmd/relay")
	}
	stage := strings.Join(final, "\n")
	for _, want := range []string{
		"USER 65532:65532",
		`ENTRYPOINT ["/relay"]`,
		"COPY --from=build /out/relay /relay",
		"RELAY_ADDR=0.0.0.0:8080",
		"RELAY_DEMO=off",
		"EXPOSE 8080",
	} {
		if !strings.Contains(stage, want) {
			t.Errorf("final stage lacks %q:\n%s", want, stage)
		}
	}
	if regexp.MustCompile(`(?m)^USER (root|0)(:|$)`).MatchString(stage) {
		t.Error("final stage runs as root")
	}

	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "data", "deploy"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(ignore) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}
