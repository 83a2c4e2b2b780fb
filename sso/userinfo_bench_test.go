package sso_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkUserinfo is one access-token check (brief s24 M5 item 3): GET /userinfo with the web
// client's access token, served by the provider's handler (in-memory store, fake hooks, no
// net/http), the whole of what ClientConfig.Unusable's cost (BenchmarkClientUnusable) is a part
// of.
func BenchmarkUserinfo(b *testing.B) {
	h := newHarness(b)
	at := h.tokens("alice", "openid", "profile").AccessToken
	w := &discardWriter{h: http.Header{}}
	check := func() {
		req := httptest.NewRequest(http.MethodGet, h.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		clear(w.h)
		w.status = 0
		h.p.ServeHTTP(w, req)
		if w.status != http.StatusOK || !strings.Contains(string(w.body), `"sub":`) {
			b.Fatalf("userinfo: %d %s", w.status, w.body)
		}
	}
	check()
	b.ReportAllocs()
	for b.Loop() {
		check()
	}
}
