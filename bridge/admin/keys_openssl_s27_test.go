package admin_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// refusedHere is a server's key manager whose libcrypto refused one key (keys.rsa_signer:
// openssl) and refuses the successor of any withdrawal (sso.ErrSuccessorRefused).
type refusedHere struct{}

func (refusedHere) Keys(context.Context) ([]sso.KeyInfo, error) {
	return []sso.KeyInfo{{ID: "k1", Algorithm: "RS256", Signing: true}, {ID: "k2", Algorithm: "RS256", OpenSSLRefused: true}}, nil
}
func (refusedHere) Retire(_ context.Context, kid string) (*sso.KeyInfo, error) {
	return nil, fmt.Errorf("keys: retire %s: nothing was withdrawn: %w: rsasign: libcrypto refused the key", kid, sso.ErrSuccessorRefused)
}

// TestAdminAPIOpenSSLRefused (session 27 S; review s26 R1-4): GET /admin/keys says which key
// libcrypto refused on this server ("openssl_refused": true) beside the one that signs; a
// withdrawal whose successor libcrypto refuses is 409 openssl_refused, not a success naming
// the successor, and is not audited as a withdrawal.
func TestAdminAPIOpenSSLRefused(t *testing.T) {
	f := newFixture(t)
	f.svc.SigningKeyManager = refusedHere{}
	serve := func(method, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		f.svc.Handler(token).ServeHTTP(rec, req)
		return rec
	}
	rec := serve("GET", "/admin/keys")
	body := strings.Join(strings.Fields(rec.Body.String()), "")
	if rec.Code != 200 || !strings.Contains(body, `"kid":"k1","alg":"RS256"`) ||
		!strings.Contains(body, `"signing":true}`) || !strings.Contains(body, `"signing":false,"openssl_refused":true}`) {
		t.Fatalf("GET /admin/keys: %d %s", rec.Code, rec.Body)
	}
	rec = serve("POST", "/admin/keys/k1/retire")
	if rec.Code != 409 || !strings.Contains(rec.Body.String(), `"openssl_refused"`) || strings.Contains(rec.Body.String(), "successor\":") {
		t.Fatalf("POST retire: %d %s, want 409 openssl_refused", rec.Code, rec.Body)
	}
	if slices.Contains(f.events(), "admin.signing_key_retired") {
		t.Fatalf("a refused withdrawal was audited as done: %v", f.events())
	}
}
