package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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

// TestKeysPageOpenSSLRefused (session 27 S; review s26 R1-4): the keys page says which key this
// server's OpenSSL refused (it signs nothing here) and marks the one that signs; a withdrawal
// whose successor OpenSSL refuses is answered 409, saying the key was left as it is, not as a
// withdrawal of unknown outcome.
func TestKeysPageOpenSSLRefused(t *testing.T) {
	f := newFixture(t)
	f.c.cfg.Admin.SigningKeyManager = refusedHere{}
	ck := f.cookie(t, f.now, f.now)
	rec := f.do("GET", "/console/keys", nil, ck, "")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `<code class="small">k1</code> <strong>signing now</strong></td>`) ||
		!strings.Contains(body, `<code class="small">k2</code> <strong class="refused">refused by OpenSSL on this server</strong>`) {
		t.Fatalf("keys page %d: %s", rec.Code, body)
	}
	f.events = nil
	rec = f.do("POST", "/console/keys/k1/retire", url.Values{"csrf": {"csrf-token"}, "confirm": {"k1"}}, ck, "http://127.0.0.1:8081")
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "was left as it is") ||
		!strings.Contains(rec.Body.String(), "OpenSSL cannot sign with the new key") {
		t.Fatalf("withdraw: %d %s", rec.Code, rec.Body)
	}
	if len(f.events) != 0 {
		t.Fatalf("audit %v", f.events)
	}
}
