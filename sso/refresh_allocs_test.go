package sso_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/internal/benchcpu"
)

// discardWriter is a ResponseWriter that keeps only the status and the body's last bytes.
type discardWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.body = append(w.body[:0], b...)
	return len(b), nil
}

// TestRefreshAllocationBudget: a refresh grant with an ID token (the web client, openid and
// offline_access), served by the provider's handler, allocates at most its budget: the
// allocations of the token endpoint are GC work on every refresh (the garbage collector's share
// of a refresh at GOMAXPROCS=1 is about 15 us, in proportion to what a refresh allocates). The
// budget is what the request needs here (in-memory store, fake hooks, the writer below); it
// failed at 94 allocations when the provider issued through op.CreateAccessToken and built the
// ID token's claims through oidc.NewIDTokenClaims and its map merge (and an AEAD buffer
// escaped), and at 68 when the form was parsed by Request.ParseForm (a copy of it in r.Form),
// the request copied for a context value only op reads and each API header set as a new slice,
// at 55 when the ID token's sid claim was a map of extra claims made for it alone, and at 52
// when the ID token was a string of its own copied into the response (with the response value
// and the joined scope), and at 49 when the family cache's copy of the family was an allocation
// of its own (now copied into the refresh request), and at 48 when the token endpoint's context
// was op's issuer and the signing algorithm as two context values with two boxed strings, and
// the member's extra claims were copied into a map of the userinfo's own, and at 45 when the
// Basic credentials were decoded into a slice and copied into a string, the body went through
// MaxBytesReader with its length declared within the bound, the form's map grew from empty
// with a slice per parameter, at_hash and sid were strings of their own before they were
// written into the payload, and the signature's digest went to the heap through the key's
// Sign method, and at 39 when the access token was sealed in a buffer of its own, and at 38
// when the access token's id was a base64 string of its own before it was sealed and the
// refresh grant's op.Client an allocation of its own, and at 36 when the token endpoint's
// context and the rotation were allocations of their own beside the refresh request.
func TestRefreshAllocationBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops pooled buffers under the race detector")
	}
	refresh := newRefresher(newHarness(t))
	refresh()
	const budget = 34 // 34 on 2026-12-05 (36 before the token context and the rotation went into the refresh request's allocation, 38 before the access token was sealed from its id's fields and the op.Client went into the refresh request, 55 before the sid claim was written without a map, 52 before the response was written into its buffer, 49 before the cached family was copied into the request, 48 before tokenContext and applyClaims's map, 45 before the form, Basic credentials, at_hash, sid and digest allocations went, 39 before the access token's sealing buffer was pooled)
	if n := testing.AllocsPerRun(50, refresh); n > budget {
		t.Errorf("a refresh allocates %.0f objects, budget %d", n, budget)
	}
}

// newRefresher returns a function that runs one refresh grant with an ID token (the web client,
// openid and offline_access, RS256) through h's provider handler, as TestRefreshAllocationBudget
// and BenchmarkRefreshGrant count it, and keeps the rotated refresh token for the next call.
func newRefresher(h *harness) func() {
	rt := h.tokens("alice", "openid", "offline_access").RefreshToken
	w := &discardWriter{h: http.Header{}}
	return func() {
		req := httptest.NewRequest(http.MethodPost, h.issuer+"/oauth/token",
			strings.NewReader("grant_type=refresh_token&refresh_token="+rt))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("web", webSecret)
		clear(w.h)
		w.status = 0
		h.p.ServeHTTP(w, req)
		body := string(w.body)
		if w.status != 200 || !strings.Contains(body, `"id_token":"`) {
			h.t.Fatalf("refresh: %d %s", w.status, body)
		}
		i := strings.Index(body, `"refresh_token":"`) + len(`"refresh_token":"`)
		rt = body[i : i+strings.IndexByte(body[i:], '"')]
	}
}

// BenchmarkRefreshGrant is TestRefreshAllocationBudget's refresh as a benchmark: the provider's
// handler alone (in-memory store, fake hooks, no net/http), allocations and process CPU time per
// refresh (cpu-ns/op) included. bridge's BenchmarkRefreshGrant adds the bridge's router, hooks
// and SQLite store.
func BenchmarkRefreshGrant(b *testing.B) {
	refresh := newRefresher(newHarness(b))
	refresh()
	b.ReportAllocs()
	b.ResetTimer()
	defer benchcpu.Start().Report(b)
	for i := 0; i < b.N; i++ {
		refresh()
	}
}
