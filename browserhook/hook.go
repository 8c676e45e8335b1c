package browserhook

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Source is hook.js exactly as in the repository, with no configuration
// (SERVED_CONFIG is null: the hook reads data-workbench-origins then).
//
//go:embed hook.js
var Source []byte

// configSlot is the literal in hook.js that Render replaces.
const configSlot = "/*callrelay:config*/null/*callrelay:end*/"

// CacheControl is the cache policy of GET /hook.js: browsers and proxies may
// keep it five minutes, then revalidate with If-None-Match (a 304 when the
// configuration has not changed).
const CacheControl = "public, max-age=300"

// Config is what the relay writes into the script it serves.
type Config struct {
	// WorkbenchOrigins are the origins (exact, or "https://*.domain"
	// patterns) whose postMessages the hook forwards. The caller validates
	// them (cmd/relay uses relay.NewOriginPolicy); an empty list makes a
	// hook that forwards nothing.
	WorkbenchOrigins []string `json:"workbenchOrigins"`
}

// Render returns hook.js with cfg written into its SERVED_CONFIG slot.
func Render(cfg Config) ([]byte, error) {
	if bytes.Count(Source, []byte(configSlot)) != 1 {
		return nil, errors.New("browserhook: hook.js must hold the config slot exactly once")
	}
	for _, o := range cfg.WorkbenchOrigins {
		if o == "" || strings.ContainsAny(o, "\"'\\<>` \t\r\n") {
			return nil, fmt.Errorf("browserhook: workbench origin %q is not an origin", o)
		}
	}
	if cfg.WorkbenchOrigins == nil {
		cfg.WorkbenchOrigins = []string{}
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("browserhook: encode config: %w", err)
	}
	slot := "/*callrelay:config*/" + string(js) + "/*callrelay:end*/"
	return bytes.Replace(Source, []byte(configSlot), []byte(slot), 1), nil
}

// Handler serves the rendered hook (GET and HEAD) with its content type, a
// strong ETag over the served bytes, CacheControl, and 304 answers to a
// matching If-None-Match. The bytes are rendered once, here.
func Handler(cfg Config) (http.Handler, error) {
	body, err := Render(cfg)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"error":{"code":"method_not_allowed","message":"use GET"}}` + "\n"))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("ETag", etag)
		h.Set("Cache-Control", CacheControl)
		h.Set("X-Content-Type-Options", "nosniff")
		// Pages that isolate themselves (COEP) may still load it.
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		// ServeContent answers If-None-Match with 304, HEAD and ranges.
		http.ServeContent(w, r, "hook.js", time.Time{}, bytes.NewReader(body))
	}), nil
}
