package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// keysFixture is the console fixture with the server's key manager on its store (one RS256
// key that signs now).
func keysFixture(t *testing.T) (*fixture, *sso.KeyManager, string) {
	t.Helper()
	f := newFixture(t)
	m, err := sso.NewKeyManager(context.Background(), f.st, sso.KeyConfig{EncryptionKey: make([]byte, 32), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f.c.cfg.Admin.SigningKeyManager = m
	k, err := m.SigningKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	return f, m, k.ID()
}

// TestKeysPageWithdraws: the keys page lists the published keys with a link to each one's
// confirmation step, which says what withdrawal does; its CSRF-protected form withdraws the key
// through the administration (the API's path: audited admin.signing_key_retired, a successor
// signs) and the keys page then says so.
func TestKeysPageWithdraws(t *testing.T) {
	f, m, kid := keysFixture(t)
	ck := f.cookie(t, f.now, f.now)

	rec := f.do("GET", "/console/keys", nil, ck, "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), kid) || !strings.Contains(rec.Body.String(), `href="/console/keys/`+kid+`/retire"`) {
		t.Fatalf("keys page %d: %s", rec.Code, rec.Body)
	}
	rec = f.do("GET", "/console/keys/"+kid+"/retire", nil, ck, "")
	body := rec.Body.String()
	for _, want := range []string{"signs no more", "leaves the issuer's JWKS", "refused", "a new RS256 key signs from now", `name="csrf" value="csrf-token"`, `name="confirm" value="` + kid + `"`} {
		if rec.Code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("confirmation page %d lacks %q: %s", rec.Code, want, body)
		}
	}
	if list, _ := m.Keys(context.Background()); len(list) != 1 || list[0].ID != kid {
		t.Fatalf("the confirmation page changed the keys: %+v", list)
	}

	f.events = nil
	rec = f.do("POST", "/console/keys/"+kid+"/retire", url.Values{"csrf": {"csrf-token"}, "confirm": {kid}}, ck, "http://127.0.0.1:8081")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("withdraw: %d %s", rec.Code, rec.Body)
	}
	if !slices.Equal(f.events, []string{"admin.signing_key_retired"}) {
		t.Fatalf("audit %v", f.events)
	}
	list, err := m.Keys(context.Background())
	if err != nil || len(list) != 1 || list[0].ID == kid || !list[0].Signing {
		t.Fatalf("keys after the withdrawal: %+v %v", list, err)
	}
	if k, _ := m.SigningKey("RS256"); k.ID() != list[0].ID {
		t.Fatalf("signs with %s, want the successor %s", k.ID(), list[0].ID)
	}
	loc := rec.Header().Get("Location")
	rec = f.do("GET", loc, nil, ck, "")
	if n := rec.Body.String(); !strings.Contains(n, "The signing key "+kid+" was withdrawn") || !strings.Contains(n, "The new key "+list[0].ID+" signs RS256") {
		t.Fatalf("keys page after the withdrawal (%s): %s", loc, n)
	}
	// Only the notice of what this console session did is shown (end-of-session review s14
	// RV3-2): a link without the session's proof, one with another successor than the proof's,
	// and one whose proof another session made show none; the link's alg is never read.
	for _, link := range []string{
		"/console/keys?withdrawn=" + kid,
		"/console/keys?withdrawn=" + kid + "&successor=forged&alg=HS256",
		"/console/keys?" + with(withdrawnAt(&session{CSRF: "csrf-token"}, kindOIDC, kid, list[0].ID), "successor", "forged"),
		"/console/keys?" + withdrawnAt(&session{CSRF: "another-session"}, kindOIDC, kid, list[0].ID).Encode(),
		"/console/keys?" + with(withdrawnAt(&session{CSRF: "csrf-token"}, kindSAML, kid, list[0].ID), "kind", kindOIDC),
		"/console/keys?withdrawn=" + list[0].ID,
	} {
		rec = f.do("GET", link, nil, ck, "")
		if n := rec.Body.String(); rec.Code != http.StatusOK || strings.Contains(n, "was withdrawn") || strings.Contains(n, "forged") || strings.Contains(n, "HS256") {
			t.Fatalf("keys page at %s: %d %s", link, rec.Code, n)
		}
	}
}

// TestKeysWithdrawRefusals: without the CSRF token, without the confirmation step, for a key
// withdrawn already or unknown, and where the keys are not managed, nothing is withdrawn nor
// audited and the page says why.
func TestKeysWithdrawRefusals(t *testing.T) {
	f, m, kid := keysFixture(t)
	ck := f.cookie(t, f.now, f.now)
	gone := "gone-key"
	for _, tc := range []struct {
		name     string
		kid      string
		form     url.Values
		want     int
		message  string
		audit    []string
		withdraw bool // withdraw the key first (another administrator)
	}{
		{"no csrf token", kid, url.Values{"confirm": {kid}}, http.StatusForbidden, "not acted on", []string{"console.csrf_failure"}, false},
		{"not confirmed", kid, url.Values{"csrf": {"csrf-token"}}, http.StatusBadRequest, "confirmation page", nil, false},
		{"confirmation of another key", kid, url.Values{"csrf": {"csrf-token"}, "confirm": {"other"}}, http.StatusBadRequest, "confirmation page", nil, false},
		{"unknown key", gone, url.Values{"csrf": {"csrf-token"}, "confirm": {gone}}, http.StatusNotFound, "withdrawn already", nil, false},
		{"withdrawn already", kid, url.Values{"csrf": {"csrf-token"}, "confirm": {kid}}, http.StatusNotFound, "withdrawn already", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.withdraw {
				if _, err := m.Retire(context.Background(), tc.kid); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := m.Keys(context.Background())
			f.events = nil
			rec := f.do("POST", "/console/keys/"+tc.kid+"/retire", tc.form, ck, "")
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.message) {
				t.Fatalf("status %d, want %d with %q: %s", rec.Code, tc.want, tc.message, rec.Body)
			}
			if !slices.Equal(f.events, tc.audit) {
				t.Fatalf("audit %v, want %v", f.events, tc.audit)
			}
			if after, _ := m.Keys(context.Background()); !slices.Equal(after, before) {
				t.Fatalf("keys changed: %+v -> %+v", before, after)
			}
		})
	}
	// The confirmation step of a key no longer published says so.
	if rec := f.do("GET", "/console/keys/"+kid+"/retire", nil, ck, ""); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "withdrawn already") {
		t.Fatalf("confirmation of a withdrawn key: %d %s", rec.Code, rec.Body)
	}
	// Keys not managed here: the page and the form say so.
	f.c.cfg.Admin.SigningKeyManager = nil
	if rec := f.do("GET", "/console/keys", nil, ck, ""); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "not managed here") {
		t.Fatalf("keys page without keys: %d %s", rec.Code, rec.Body)
	}
}

// TestKeysWithdrawAnotherKEK: a key manager whose key-encryption key does not open the key (the
// key manager refuses) withdraws nothing; the page says the key was left as it is.
func TestKeysWithdrawAnotherKEK(t *testing.T) {
	f, m, kid := keysFixture(t)
	other, err := sso.OpenKeyManager(f.st, sso.KeyConfig{EncryptionKey: []byte("0123456789abcdef0123456789abcdef"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f.c.cfg.Admin.SigningKeyManager = other
	ck := f.cookie(t, f.now, f.now)
	f.events = nil
	rec := f.do("POST", "/console/keys/"+kid+"/retire", url.Values{"csrf": {"csrf-token"}, "confirm": {kid}}, ck, "")
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "left as it is") || !strings.Contains(rec.Body.String(), "keys.encryption_key") {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if len(f.events) != 0 {
		t.Fatalf("audit %v", f.events)
	}
	if list, _ := m.Keys(context.Background()); len(list) != 1 || list[0].ID != kid || !list[0].Signing {
		t.Fatalf("keys: %+v", list)
	}
}

// failingKeys is a key manager whose withdrawal fails in the store: it may have failed at the
// commit, after the key was withdrawn.
type failingKeys struct{ *sso.KeyManager }

func (failingKeys) Retire(context.Context, string) (*sso.KeyInfo, error) {
	return nil, errors.New("keys: retire: commit: disk I/O error")
}

// TestKeysWithdrawStoreFailure (end-of-session review s14 RV3-3): a withdrawal that failed in
// the store does not say the key was left as it is (the commit may have landed): the page
// says it is not known and where to look; nothing is audited.
func TestKeysWithdrawStoreFailure(t *testing.T) {
	f, m, kid := keysFixture(t)
	f.c.cfg.Admin.SigningKeyManager = failingKeys{m}
	ck := f.cookie(t, f.now, f.now)
	f.events = nil
	rec := f.do("POST", "/console/keys/"+kid+"/retire", url.Values{"csrf": {"csrf-token"}, "confirm": {kid}}, ck, "")
	if n := rec.Body.String(); rec.Code != http.StatusInternalServerError || strings.Contains(n, "left as it is") || !strings.Contains(n, "is not known") {
		t.Fatalf("status %d: %s", rec.Code, n)
	}
	if len(f.events) != 0 {
		t.Fatalf("audit %v", f.events)
	}
}

// with is q encoded with name set to value.
func with(q url.Values, name, value string) string {
	q.Set(name, value)
	return q.Encode()
}
