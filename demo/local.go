package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/callrelay/callrelay/relay"
)

// local reports whether r is addressed to this machine by a loopback name
// and, when it carries an Origin, comes from a page of that same host. A
// page elsewhere that re-binds its DNS name to 127.0.0.1 still sends its own
// name as Host, so checking the Host keeps the demo's feed and switch out
// of other sites' reach; the Origin check keeps other local pages from
// driving the switch.
func local(r *http.Request) bool {
	if !relay.IsLoopback(r.Host) {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == "http" && strings.EqualFold(u.Host, r.Host)
}

// outageState is the body of GET and POST /demo/outage.
type outageState struct {
	Down bool `json:"down"`
}

// serveOutage answers GET /demo/outage with the switch's state and sets it
// on POST {"down": true|false}.
func (d *Demo) serveOutage(w http.ResponseWriter, r *http.Request) {
	o := d.cfg.Outage
	if o == nil {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var in outageState
		if err := json.NewDecoder(io.LimitReader(r.Body, 1024)).Decode(&in); err != nil {
			http.Error(w, `the body must be {"down": true} or {"down": false}`, http.StatusBadRequest)
			return
		}
		if o.Paused() != in.Down {
			o.Pause(in.Down)
			d.cfg.Logger.Info().Bool("down", in.Down).Msg("demo: simulated NATS outage switched")
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = json.NewEncoder(w).Encode(outageState{Down: o.Paused()})
}
