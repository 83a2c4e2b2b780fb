package bridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestConsoleWithdrawsKey: in a phone-sized browser an administrator opens the signing keys,
// withdraws the one that signs through its confirmation step, and the key leaves JWKS at once, a
// successor signs, and the withdrawal is in the audit log under the administrator's name.
func TestConsoleWithdrawsKey(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	e, console := consoleEnv(t)
	ctx := consoleChrome(t)
	jwks := func() string {
		resp, err := http.Get(e.issuer + "/keys")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.Kid)
		}
		return strings.Join(kids, " ")
	}

	consoleSignIn(t, ctx, console, "bob", "bob-password", "#welcome")
	visit(t, ctx, console+"/console/keys", "#keys")
	row := `#keys tbody tr:has(strong)` // the key that signs now
	kid, alg := text(t, ctx, row+" code"), text(t, ctx, row+` td[data-label="Algorithm"]`)
	if kid == "" || !strings.Contains(jwks(), kid) {
		t.Fatalf("signing key %q not in JWKS %q", kid, jwks())
	}
	submit(t, ctx, row+` a[href$="/retire"]`, "#what-it-does")
	if w := text(t, ctx, "#what-it-does"); !strings.Contains(w, "signs no more") || !strings.Contains(w, "refused") || !strings.Contains(w, "new "+alg+" key signs from now") {
		t.Fatalf("confirmation: %q", w)
	}
	if got := text(t, ctx, "#kid"); got != kid {
		t.Fatalf("confirmation of %q, want %q", got, kid)
	}
	submit(t, ctx, "#retire", "#notice")
	if n := text(t, ctx, "#notice"); !strings.Contains(n, kid+" was withdrawn") || !strings.Contains(n, "signs "+alg+" from now") {
		t.Fatalf("notice: %q", n)
	}
	if k := jwks(); strings.Contains(k, kid) || k == "" {
		t.Fatalf("JWKS after the withdrawal: %q", k)
	}
	if l := text(t, ctx, "#keys"); strings.Contains(l, kid) || !strings.Contains(l, "signing now") {
		t.Fatalf("keys after the withdrawal: %q", l)
	}
	evs, err := e.store.AuditEvents(context.Background(), store.AuditFilter{Event: "admin.signing_key_retired"})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, "kid="+kid) || !strings.Contains(evs[0].Detail, "by console:bob") {
		t.Fatalf("audit: %+v %v", evs, err)
	}
	// Cancel on a confirmation page withdraws nothing.
	visit(t, ctx, console+"/console/keys", "#keys")
	succ := text(t, ctx, row+" code")
	submit(t, ctx, row+` a[href$="/retire"]`, "#what-it-does")
	if err := chromedp.Do(ctx, chromedp.Click(`//a[text()="Cancel"]`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(jwks(), succ) {
		t.Fatalf("successor %s left JWKS on cancel", succ)
	}
}
