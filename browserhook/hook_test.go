package browserhook_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/callrelay/callrelay/browserhook"
)

// MustHandler builds the hook handler or fails the test.
func MustHandler(tb testing.TB, origins ...string) http.Handler {
	tb.Helper()
	h, err := browserhook.Handler(browserhook.Config{WorkbenchOrigins: origins})
	if err != nil {
		tb.Fatalf("Handler(%q): %v", origins, err)
	}
	return h
}

func get(h http.Handler, method string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/hook.js", nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServedHookCarriesTheOrigins(t *testing.T) {
	h := MustHandler(t, "https://*.sobot.com", "http://127.0.0.1:8081")
	w := get(h, http.MethodGet, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("got status %d, want 200", w.Code)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/javascript; charset=utf-8",
		"Cache-Control":          browserhook.CacheControl,
		"X-Content-Type-Options": "nosniff",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	body := w.Body.String()
	want := `/*callrelay:config*/{"workbenchOrigins":["https://*.sobot.com","http://127.0.0.1:8081"]}/*callrelay:end*/`
	if !strings.Contains(body, want) {
		t.Errorf("served hook lacks %s", want)
	}
	if len(body) < len(browserhook.Source) || !strings.HasPrefix(body, "/*") {
		t.Errorf("served hook is not the embedded file")
	}
}

func TestETagAndNotModified(t *testing.T) {
	a := MustHandler(t, "https://v6.example.com")
	b := MustHandler(t, "https://v7.example.com")
	w := get(a, http.MethodGet, nil)
	etag := w.Header().Get("ETag")
	if len(etag) < 10 || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("got ETag %q, want a strong quoted tag", etag)
	}
	if other := get(b, http.MethodGet, nil).Header().Get("ETag"); other == etag {
		t.Errorf("got the same ETag %s for different origins, want different", etag)
	}
	if again := get(MustHandler(t, "https://v6.example.com"), http.MethodGet, nil).Header().Get("ETag"); again != etag {
		t.Errorf("got ETag %s then %s for the same config, want stable", etag, again)
	}
	nm := get(a, http.MethodGet, http.Header{"If-None-Match": {etag}})
	if nm.Code != http.StatusNotModified || nm.Body.Len() != 0 {
		t.Errorf("If-None-Match: got %d with %d bytes, want 304 and no body", nm.Code, nm.Body.Len())
	}
	if stale := get(a, http.MethodGet, http.Header{"If-None-Match": {`"other"`}}); stale.Code != http.StatusOK {
		t.Errorf("stale If-None-Match: got %d, want 200", stale.Code)
	}
}

func TestMethods(t *testing.T) {
	h := MustHandler(t)
	if w := get(h, http.MethodHead, nil); w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("ETag") == "" {
		t.Errorf("HEAD: got %d, %d bytes, ETag %q; want 200, no body, an ETag", w.Code, w.Body.Len(), w.Header().Get("ETag"))
	}
	w := get(h, http.MethodPost, nil)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: got %d Allow %q, want 405 with Allow", w.Code, w.Header().Get("Allow"))
	}
}

func TestRender(t *testing.T) {
	if n := bytes.Count(browserhook.Source, []byte("/*callrelay:config*/null/*callrelay:end*/")); n != 1 {
		t.Fatalf("hook.js holds the config slot %d times, want 1", n)
	}
	out, err := browserhook.Render(browserhook.Config{})
	if err != nil || !bytes.Contains(out, []byte(`{"workbenchOrigins":[]}`)) {
		t.Errorf("Render(no origins): got %v, want an empty list written in", err)
	}
	for _, bad := range []string{"", `https://x.com"];alert(1);//`, "https://a.com</script>", "https://a b.com"} {
		if _, err := browserhook.Render(browserhook.Config{WorkbenchOrigins: []string{bad}}); err == nil {
			t.Errorf("Render(%q): got nil error, want one", bad)
		}
	}
}
