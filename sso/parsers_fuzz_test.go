package sso_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// FuzzNormalizeUserCode: whatever a member types, a user code accepted is 8 letters of the
// RFC 8628 6.1 charset, and its display form normalises back to it.
func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "BCDFGHJ", "BCDF-GHJA", "", "ßCDF-GHJK", strings.Repeat("B", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		code, ok := sso.NormalizeUserCode(typed)
		if !ok {
			return
		}
		if len(code) != 8 || strings.Trim(code, "BCDFGHJKLMNPQRSTVWXZ") != "" {
			t.Fatalf("NormalizeUserCode(%q) = %q", typed, code)
		}
		if again, ok := sso.NormalizeUserCode(sso.FormatUserCode(code)); !ok || again != code {
			t.Fatalf("FormatUserCode(%q) = %q does not normalise back (%q, %v)", code, sso.FormatUserCode(code), again, ok)
		}
	})
}

// FuzzAccessID: an access token's fields survive the id codec; any other input decodes to an
// error or to fields that encode back to an id decoding to the same fields.
func FuzzAccessID(f *testing.F) {
	f.Add("fam", int64(3), "web", "alice", "web api", "openid profile", int64(1700000000), "")
	f.Add("", int64(0), "svc", "", "", "api.read", int64(1), "YTEfeA")
	f.Fuzz(func(t *testing.T, family string, gen int64, client, subject, aud, scopes string, exp int64, raw string) {
		if d, err := sso.DecodeAccessID(raw); err == nil {
			id, err := sso.EncodeAccessID(d)
			if err != nil {
				t.Fatalf("decoded %q to %+v, which does not encode: %v", raw, d, err)
			}
			again, err := sso.DecodeAccessID(id)
			if err != nil || again.FamilyID != d.FamilyID || again.Subject != d.Subject || !again.ExpiresAt.Equal(d.ExpiresAt) {
				t.Fatalf("round trip of %+v: %+v, %v", d, again, err)
			}
		}
		if gen < 0 {
			return
		}
		at := &sso.AccessID{FamilyID: family, Generation: gen, ClientID: client, Subject: subject,
			Audience: strings.Fields(aud), Scopes: strings.Fields(scopes), CreatedAt: time.Unix(exp-60, 0), ExpiresAt: time.Unix(exp, 0)}
		id, err := sso.EncodeAccessID(at)
		if err != nil {
			return // a field with the separator
		}
		got, err := sso.DecodeAccessID(id)
		if err != nil || got.FamilyID != family || got.Generation != gen || got.ClientID != client || got.Subject != subject ||
			strings.Join(got.Audience, " ") != strings.Join(at.Audience, " ") || strings.Join(got.Scopes, " ") != strings.Join(at.Scopes, " ") ||
			got.ExpiresAt.Unix() != exp || got.IDHash != sso.HashToken(id) {
			t.Fatalf("round trip of %+v: %+v, %v", at, got, err)
		}
	})
}

// FuzzParseRefreshToken: a parsed token is "<family>.<generation>.<secret>" with a canonical
// generation; anything else is a legacy token.
func FuzzParseRefreshToken(f *testing.F) {
	for _, s := range []string{"fam.0.secret", "fam.12.x.y", "legacy", "a..b", ".1.x", "f.01.x", "f.-1.x", "f.1."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		family, gen, ok := sso.ParseRefreshToken(token)
		if !ok {
			return
		}
		if family == "" || gen < 0 || strings.Contains(family, ".") || !strings.HasPrefix(token, family+"."+strconv.FormatInt(gen, 10)+".") ||
			len(token) == len(family)+len(strconv.FormatInt(gen, 10))+2 {
			t.Fatalf("ParseRefreshToken(%q) = %q, %d", token, family, gen)
		}
	})
}
