package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
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

// TestSAMLKeysPageRefusedSigningKey (review s27 R4-9): a SAML key the server's OpenSSL refused
// while the ring has chosen it to sign is not listed as "signing now" beside "signs nothing
// here": its signatures fail on this server, and the page says that; a refused key not chosen
// signs nothing; the key that signs is "signing now".
func TestSAMLKeysPageRefusedSigningKey(t *testing.T) {
	f := newFixture(t)
	f.c.cfg.Admin.SigningKeyManager = refusedHere{}
	f.c.cfg.Admin.SAMLKeyManager = &samlKeysFake{keys: []admin.SAMLSigningKey{
		{ID: "s1", Signing: true, OpenSSLRefused: true},
		{ID: "s2", OpenSSLRefused: true},
		{ID: "s3"},
	}}
	ck := f.cookie(t, f.now, f.now)
	rec := f.do("GET", "/console/keys", nil, ck, "")
	body := rec.Body.String()
	for _, want := range []string{
		`<code class="small">s1</code> <strong class="refused">refused by OpenSSL on this server</strong> (chosen to sign now, and its signatures fail here; see the server log)`,
		`<code class="small">s2</code> <strong class="refused">refused by OpenSSL on this server</strong> (signs nothing here; see the server log)`,
		`<code class="small">s3</code></td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("keys page %d lacks %s", rec.Code, want)
		}
	}
	if strings.Count(body, "signing now") != 1 { // k1, the RS256 key that signs
		t.Errorf("a refused SAML key is listed as signing now: %s", body)
	}
	rec = f.do("POST", "/console/keys/k1/retire", url.Values{"csrf": {"csrf-token"}, "confirm": {"k1"}}, ck, "http://127.0.0.1:8081")
	if !strings.Contains(rec.Body.String(), "keys.rsa_signer: auto") || strings.Contains(rec.Body.String(), "leave nothing that signs") {
		t.Errorf("withdraw 409 does not say the way out: %s", rec.Body)
	}
}
