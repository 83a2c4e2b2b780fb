package bridge_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// TestMetricsStoreWrites: on SQLite the admin listener exports the group commit's writes per
// commit and its failed and retried transactions; a sign-in's writes are counted.
func TestMetricsStoreWrites(t *testing.T) {
	e := newEnv(t, withAdmin)
	admin := e.adminServer()
	before, _ := scrapeMetrics(t, admin.URL)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	if fail := b.Login(b.Get(cfg.AuthCodeURL("x")), "bob", "wrong-password"); fail.Status != http.StatusUnauthorized {
		t.Fatalf("failed sign-in: %d", fail.Status)
	}
	after, _ := scrapeMetrics(t, admin.URL)
	for _, s := range []string{
		`ssobridge_store_writes_per_commit_count`, `ssobridge_store_writes_per_commit_sum`,
		`ssobridge_store_writes_per_commit_bucket{le="1"}`, `ssobridge_store_writes_per_commit_bucket{le="64"}`,
	} {
		if after[s] <= before[s] {
			t.Errorf("%s: %v before a sign-in, %v after; want it to grow", s, before[s], after[s])
		}
	}
	for _, s := range []string{
		`ssobridge_store_write_transactions_failed_total`,
		`ssobridge_store_write_batch_retries_total{cause="write"}`, `ssobridge_store_write_batch_retries_total{cause="commit"}`,
	} {
		if _, ok := after[s]; !ok {
			t.Errorf("no %s series", s)
		}
	}
}
