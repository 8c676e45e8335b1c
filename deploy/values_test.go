package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every value in values.yaml is documented: a comment right above it or
// above the object it belongs to.
func TestValuesAreDocumented(t *testing.T) {
	data, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`^(\s*)([A-Za-z][A-Za-z0-9_]*):(.*)$`)
	type level struct {
		indent     int
		documented bool
	}
	var stack []level
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		m := key.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		here := i > 0 && strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#")
		parent := len(stack) > 0 && stack[len(stack)-1].documented
		leaf := strings.TrimSpace(m[3]) != ""
		if leaf && !here && !parent {
			t.Errorf("values.yaml:%d: %s has no comment", i+1, strings.TrimSpace(line))
		}
		stack = append(stack, level{indent, here || parent})
	}
}

// values.schema.json describes every value of values.yaml, so that a
// misspelt key is refused (the schema forbids unknown keys).
func TestSchemaCoversEveryValue(t *testing.T) {
	vals := MustValues(t, "../"+chartDir+"/values.yaml")
	data, err := os.ReadFile(chartDir + "/values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any, s map[string]any)
	walk = func(path string, v any, s map[string]any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		props, ok := s["properties"].(map[string]any)
		if !ok {
			return // a free-form object (annotations, securityContext ...)
		}
		for k, child := range m {
			ps, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("values.schema.json does not describe %s%s", path, k)
				continue
			}
			walk(path+k+".", child, ps)
		}
	}
	walk("", map[string]any(vals), schema)
}
