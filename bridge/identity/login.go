package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// CanonicalLogin is the form under which a typed login is throttled and hashed: NFKC (full-
// and half-width letters alike, as SQL Server's collations treat them) and Unicode case folding.
func CanonicalLogin(login string) string {
	login = strings.TrimSpace(login)
	for i := 0; i < len(login); i++ {
		if login[i] >= utf8.RuneSelf {
			return foldNFKC(login)
		}
	}
	// ASCII (most logins, every client id the client-authentication throttle counts): NFKC
	// leaves it as it is and case folding maps only A-Z in it.
	return strings.ToLower(login)
}

// foldNFKC is CanonicalLogin's general case.
func foldNFKC(login string) string { return cases.Fold().String(norm.NFKC.String(login)) }

// LoginUsable reports whether a typed login has no invisible code points: format characters
// (soft hyphen, zero-width joiners, bidi marks...), other default-ignorable code points,
// variation selectors and controls. SQL Server ignores some of them when comparing, so they
// would make one account many throttle keys; no real login has them.
func LoginUsable(login string) bool {
	for _, r := range login {
		if unicode.In(r, unicode.Cf, unicode.Cc, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
			r == '\u115F' || r == '\u1160' || r == '\u3164' || r == '\uFFA0' || r == '\u034F' {
			return false
		}
	}
	return true
}

// LoginHasher makes what the audit log keeps of a typed login that failed to sign in.
type LoginHasher struct{ key []byte }

// NewLoginHasher keys the hashes with a per-installation secret.
func NewLoginHasher(key []byte) *LoginHasher { return &LoginHasher{key: key} }

// Hash is a keyed hash of the login's canonical form (the typed text may be a password typed
// in the wrong field, so it is never kept as is).
func (h *LoginHasher) Hash(login string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("audit-login:" + CanonicalLogin(login)))
	return "hmac:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}
