package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

var resealTests = []test{
	{"EveryValueOnce", testResealEveryValue},
}

// testResealEveryValue: Reseal visits every sealed value once (a signing key, SAML keys live
// and expired, an installation secret, a TOTP secret) and replaces each with what the caller
// returns, in one transaction: a failure at the last one leaves every value as it was.
func testResealEveryValue(t *testing.T, h *H) {
	rs, ok := h.S.(store.Resealer)
	if !ok {
		t.Skip("the store cannot re-seal")
	}
	sk := ssotest.NewKey(h.Now)
	ssotest.NoErr(t, h.S.AddSigningKey(h.Ctx, sk), "AddSigningKey")
	saml := &store.SAMLKey{ID: "saml-live", CertDER: []byte{1}, PrivateEnc: []byte("saml-sealed"), CreatedAt: h.Now,
		SignUntil: h.Now.Add(time.Hour), ExpiresAt: h.Now.Add(2 * time.Hour)}
	expired := &store.SAMLKey{ID: "saml-expired", CertDER: []byte{2}, PrivateEnc: []byte("saml-old"), CreatedAt: h.Now.Add(-48 * time.Hour),
		SignUntil: h.Now.Add(-2 * time.Hour), ExpiresAt: h.Now.Add(-time.Hour)}
	for _, k := range []*store.SAMLKey{saml, expired} {
		ssotest.NoErr(t, h.S.AddSAMLKey(h.Ctx, k), "AddSAMLKey")
	}
	_, err := h.S.EnsureSecret(h.Ctx, "subject-hmac", []byte("secret-sealed"))
	ssotest.NoErr(t, err, "EnsureSecret")
	sub := ssotest.RandomID()
	ssotest.NoErr(t, h.S.PutTOTP(h.Ctx, &store.TOTPFactor{Subject: sub, SecretSealed: []byte("totp-sealed"), CreatedAt: h.Now}), "PutTOTP")

	want := []store.SealedValue{
		{Kind: store.SealedSigningKey, Name: sk.ID, Value: sk.PrivateEnc},
		{Kind: store.SealedSAMLKey, Name: expired.ID, Value: expired.PrivateEnc},
		{Kind: store.SealedSAMLKey, Name: saml.ID, Value: saml.PrivateEnc},
		{Kind: store.SealedSecret, Name: "subject-hmac", Value: []byte("secret-sealed")},
		{Kind: store.SealedTOTP, Name: sub, Value: []byte("totp-sealed")},
	}
	stored := func(what string, prefix string) {
		t.Helper()
		keys, err := h.S.SigningKeys(h.Ctx)
		ssotest.NoErr(t, err, "SigningKeys")
		samls, err := h.S.SAMLKeys(h.Ctx)
		ssotest.NoErr(t, err, "SAMLKeys")
		secret, err := h.S.EnsureSecret(h.Ctx, "subject-hmac", []byte("other"))
		ssotest.NoErr(t, err, "EnsureSecret")
		f, err := h.S.TOTP(h.Ctx, sub)
		ssotest.NoErr(t, err, "TOTP")
		got := [][]byte{keys[0].PrivateEnc, samls[0].PrivateEnc, secret, f.SecretSealed}
		for i, w := range [][]byte{sk.PrivateEnc, saml.PrivateEnc, []byte("secret-sealed"), []byte("totp-sealed")} {
			if !bytes.Equal(got[i], append([]byte(prefix), w...)) {
				t.Fatalf("%s: value %d is %q, want %q", what, i, got[i], append([]byte(prefix), w...))
			}
		}
	}

	fail := errors.New("does not open")
	_, err = rs.Reseal(h.Ctx, func(v store.SealedValue) ([]byte, error) {
		if v.Kind == store.SealedTOTP {
			return nil, fail
		}
		return append([]byte("new:"), v.Value...), nil
	})
	if !errors.Is(err, fail) {
		t.Fatalf("Reseal failing at the TOTP secret: %v, want its error", err)
	}
	stored("a failed Reseal (nothing changed)", "")

	// A store may run the transaction again (SQLite's group commit after a failed batch): the
	// values visited are compared as a set, the count is the committed run's.
	visited := map[string]store.SealedValue{}
	n, err := rs.Reseal(h.Ctx, func(v store.SealedValue) ([]byte, error) {
		visited[string(v.Kind)+"/"+v.Name] = v
		return append([]byte("new:"), v.Value...), nil
	})
	ssotest.NoErr(t, err, "Reseal")
	if n != len(want) {
		t.Fatalf("Reseal re-sealed %d values, want %d", n, len(want))
	}
	var seen []store.SealedValue
	for _, v := range visited {
		seen = append(seen, v)
	}
	slices.SortFunc(seen, func(a, b store.SealedValue) int {
		if c := slices.Index(store.SealedColumns, columnOf(a.Kind)) - slices.Index(store.SealedColumns, columnOf(b.Kind)); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.Name), []byte(b.Name))
	})
	ssotest.Equal(t, seen, want, "the values Reseal visited")
	stored("Reseal", "new:")
}

func columnOf(k store.SealedKind) store.SealedColumn {
	for _, c := range store.SealedColumns {
		if c.Kind == k {
			return c
		}
	}
	return store.SealedColumn{}
}
