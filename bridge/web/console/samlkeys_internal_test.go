package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/sso"
)

// samlKeysFake is a SAML key manager holding its keys in memory, as saml.KeyRing answers:
// withdrawing the key that signs makes a successor; fail, when set, is the answer instead.
type samlKeysFake struct {
	mu   sync.Mutex
	keys []admin.SAMLSigningKey
	n    int
	fail error
}

func (f *samlKeysFake) SAMLKeys(context.Context) ([]admin.SAMLSigningKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keys), nil
}

func (f *samlKeysFake) RetireSAMLKey(_ context.Context, kid string) (*admin.SAMLSigningKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	i := slices.IndexFunc(f.keys, func(k admin.SAMLSigningKey) bool { return k.ID == kid })
	if i < 0 {
		return nil, fmt.Errorf("saml keys: withdraw %s: %w", kid, sso.ErrNotFound)
	}
	signing := f.keys[i].Signing
	f.keys = slices.Delete(f.keys, i, i+1)
	if !signing {
		return nil, nil
	}
	f.n++
	succ := admin.SAMLSigningKey{ID: fmt.Sprintf("successor%d", f.n), Signing: true, CertificateSHA256: fmt.Sprintf("AB:CD:%02d", f.n)}
	f.keys = append(f.keys, succ)
	return &succ, nil
}

// TestSAMLKeysPageWithdraws: the keys page lists the SAML keys with their fingerprints and a
// link to each one's confirmation step, which says what withdrawal does to the SPs; its
// CSRF-protected form withdraws the key through the administration (audited
// admin.saml_signing_key_retired) and the keys page then names the successor and says the SPs
// must read the metadata again. Refusals say why and change nothing; without SAML keys managed
// here the section is absent.
func TestSAMLKeysPageWithdraws(t *testing.T) {
	f, _, _ := keysFixture(t)
	fake := &samlKeysFake{keys: []admin.SAMLSigningKey{{ID: "samlkey1", Signing: true, CertificateSHA256: "01:02:03"}}}
	f.c.cfg.Admin.SAMLKeyManager = fake
	ck := f.cookie(t, f.now, f.now)

	rec := f.do("GET", "/console/keys", nil, ck, "")
	if b := rec.Body.String(); rec.Code != http.StatusOK || !strings.Contains(b, "SAML signing keys") || !strings.Contains(b, "01:02:03") ||
		!strings.Contains(b, `href="/console/keys/saml/samlkey1/retire"`) {
		t.Fatalf("keys page %d: %s", rec.Code, b)
	}
	rec = f.do("GET", "/console/keys/saml/samlkey1/retire", nil, ck, "")
	for _, want := range []string{"signs no more", "leaves the SAML metadata", "a new key signs", "reads the metadata again",
		`name="csrf" value="csrf-token"`, `name="confirm" value="samlkey1"`, `action="/console/keys/saml/samlkey1/retire"`} {
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("confirmation page %d lacks %q: %s", rec.Code, want, rec.Body)
		}
	}

	for _, tc := range []struct {
		name    string
		kid     string
		form    url.Values
		fail    error
		want    int
		message string
		audit   []string
	}{
		{"no csrf token", "samlkey1", url.Values{"confirm": {"samlkey1"}}, nil, http.StatusForbidden, "not acted on", []string{"console.csrf_failure"}},
		{"not confirmed", "samlkey1", url.Values{"csrf": {"csrf-token"}}, nil, http.StatusBadRequest, "confirmation page", nil},
		{"unknown key", "gone", url.Values{"csrf": {"csrf-token"}, "confirm": {"gone"}}, nil, http.StatusNotFound, "withdrawn already", nil},
		{"another keys.encryption_key", "samlkey1", url.Values{"csrf": {"csrf-token"}, "confirm": {"samlkey1"}},
			fmt.Errorf("saml keys: withdraw samlkey1: %w: cipher: message authentication failed", sso.ErrOtherEncryptionKey),
			http.StatusConflict, "was left as it is (it still signs and is in the SAML metadata)", nil},
		{"store failure", "samlkey1", url.Values{"csrf": {"csrf-token"}, "confirm": {"samlkey1"}},
			errors.New("sqlite: retire saml key: commit: disk I/O error"), http.StatusInternalServerError, "is not known", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.fail = tc.fail
			defer func() { fake.fail = nil }()
			f.events = nil
			rec := f.do("POST", "/console/keys/saml/"+tc.kid+"/retire", tc.form, ck, "")
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.message) {
				t.Fatalf("status %d, want %d with %q: %s", rec.Code, tc.want, tc.message, rec.Body)
			}
			if !slices.Equal(f.events, tc.audit) {
				t.Fatalf("audit %v, want %v", f.events, tc.audit)
			}
			if len(fake.keys) != 1 || fake.keys[0].ID != "samlkey1" {
				t.Fatalf("keys changed: %+v", fake.keys)
			}
		})
	}

	f.events = nil
	rec = f.do("POST", "/console/keys/saml/samlkey1/retire", url.Values{"csrf": {"csrf-token"}, "confirm": {"samlkey1"}}, ck, "http://127.0.0.1:8081")
	if rec.Code != http.StatusSeeOther || !slices.Equal(f.events, []string{"admin.saml_signing_key_retired"}) {
		t.Fatalf("withdraw: %d, audit %v: %s", rec.Code, f.events, rec.Body)
	}
	loc := rec.Header().Get("Location")
	rec = f.do("GET", loc, nil, ck, "")
	if n := rec.Body.String(); !strings.Contains(n, "The SAML signing key samlkey1 was withdrawn") || !strings.Contains(n, "The new key successor1 signs from now") ||
		!strings.Contains(n, "AB:CD:01") || !strings.Contains(n, "read the metadata again") {
		t.Fatalf("keys page after the withdrawal (%s): %s", loc, n)
	}
	// The same notice for the OIDC kind is not this session's: none.
	if n := f.do("GET", "/console/keys?"+with(withdrawnAt(&session{CSRF: "csrf-token"}, kindSAML, "samlkey1", "successor1"), "kind", kindOIDC), nil, ck, "").Body.String(); strings.Contains(n, "was withdrawn") {
		t.Fatalf("a SAML withdrawal's proof shown as an OIDC one: %s", n)
	}

	// Without SAML keys managed here, no SAML section (and the OIDC keys as before).
	f.c.cfg.Admin.SAMLKeyManager = nil
	if rec := f.do("GET", "/console/keys", nil, ck, ""); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "SAML signing keys") {
		t.Fatalf("keys page without SAML keys: %d %s", rec.Code, rec.Body)
	}
}
