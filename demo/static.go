package demo

import (
	"embed"
	"net/http"

	"github.com/callrelay/callrelay/relay"
)

// files holds the demo's pages and scripts.
//
//go:embed static
var files embed.FS

// mustRead returns an embedded file; the names are fixed at compile time.
func mustRead(name string) []byte {
	b, err := files.ReadFile("static/" + name)
	if err != nil {
		panic("demo: missing embedded file " + name)
	}
	return b
}

// serveStatic writes one embedded file with its content type. The demo's
// files change only with the binary, but a developer editing them wants a
// reload to show the change: no-cache.
func serveStatic(w http.ResponseWriter, r *http.Request, body []byte, contentType string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// Workbench serves the simulated agent workbench: its page at / and the
// simulator at /simulator.js. cmd/relay serves it on its own listener, so
// that it is a different origin from the parent page, as in production.
//
// Its page may be framed only by pages of this machine (the demo's), and it
// answers only a loopback Host, like the demo. (Its Origin is not checked:
// the demo page, another origin, loads it by design.)
func Workbench() http.Handler {
	page, sim, icon := mustRead("workbench.html"), mustRead("simulator.js"), mustRead("favicon.svg")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !relay.IsLoopback(r.Host) {
			http.Error(w, "the demo's workbench answers only on a loopback address", http.StatusForbidden)
			return
		}
		switch r.URL.Path {
		case "/", "/index.html":
			w.Header().Set("Content-Security-Policy", "frame-ancestors http://127.0.0.1:* http://localhost:* http://[::1]:*")
			serveStatic(w, r, page, "text/html; charset=utf-8")
		case "/simulator.js":
			serveStatic(w, r, sim, "text/javascript; charset=utf-8")
		case "/favicon.svg":
			serveStatic(w, r, icon, "image/svg+xml")
		default:
			http.NotFound(w, r)
		}
	})
}
