package admin_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

// TestWrongTokensBounded: wrong admin tokens from one address are audited one row each up to
// the budget (the first failures stay visible), then answered 429 with Retry-After and written
// as one row when the budget runs out and one summary with their count when the minute ends;
// the right token from that address still works, and another address has its own budget.
func TestWrongTokensBounded(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	f.svc.Now = func() time.Time { return now }
	h := f.svc.Handler(token)
	call := func(from, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/admin/tokens", nil)
		req.RemoteAddr = from + ":40000"
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	count := func(event string) int {
		return len(slices.DeleteFunc(f.events(), func(e string) bool { return e != event }))
	}

	const attempts = 40
	for i := range attempts {
		rec := call("192.0.2.9", token+"x")
		switch {
		case i < admin.AuthFailureBudget && rec.Code != http.StatusUnauthorized:
			t.Fatalf("wrong token %d: %d, want 401", i+1, rec.Code)
		case i >= admin.AuthFailureBudget && (rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == ""):
			t.Fatalf("wrong token %d past the budget: %d (Retry-After %q), want 429", i+1, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	if n := count("admin.auth_failure"); n != admin.AuthFailureBudget {
		t.Errorf("%d admin.auth_failure rows for %d wrong tokens, want %d", n, attempts, admin.AuthFailureBudget)
	}
	if n := count("admin.auth_throttled"); n != 1 {
		t.Errorf("%d admin.auth_throttled rows when the budget ran out, want 1", n)
	}
	if rec := call("192.0.2.9", token); rec.Code != http.StatusOK {
		t.Errorf("the right token from a throttled address: %d", rec.Code)
	}
	if rec := call("2001:db8::1", token+"x"); rec.Code != http.StatusUnauthorized {
		t.Errorf("another address: %d, want its own budget", rec.Code)
	}

	now = now.Add(time.Minute)
	f.svc.SweepAuthFailures(t.Context())
	var summary string
	for _, e := range f.audit {
		if e.Event == "admin.auth_throttled" && strings.Contains(e.Detail, "refused (429) and not written") {
			summary = e.Detail
		}
	}
	if want := "30 wrong admin tokens"; !strings.HasPrefix(summary, want) {
		t.Errorf("summary %q, want it to start with %q", summary, want)
	}
	if rec := call("192.0.2.9", token+"x"); rec.Code != http.StatusUnauthorized {
		t.Errorf("the next minute's first wrong token: %d, want 401", rec.Code)
	}
	if total := len(f.audit); total > 2*admin.AuthFailureBudget+5 {
		t.Errorf("%d audit rows for %d wrong tokens", total, attempts+2)
	}
}
