package identity_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestSecretsSealedInPlace: a secret an earlier version stored in the clear keeps its value
// and is sealed in place; a new one is created sealed; another key-encryption key is refused.
func TestSecretsSealedInPlace(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	plain := bytes.Repeat([]byte{3}, 32)
	if _, err := st.EnsureSecret(ctx, "old", plain); err != nil {
		t.Fatal(err)
	}
	kek := bytes.Repeat([]byte{7}, 32)
	got, err := identity.OpenSecrets(ctx, st, kek, "old", "new")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got["old"], plain) || len(got["new"]) != 32 {
		t.Fatalf("secrets = %x", got)
	}
	for name, want := range got {
		stored, err := st.EnsureSecret(ctx, name, []byte("unused"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(stored, identity.SealedSecretPrefix) || bytes.Contains(stored, want) {
			t.Fatalf("%s not sealed: %x", name, stored)
		}
	}
	again, err := identity.OpenSecrets(ctx, st, kek, "old", "new")
	if err != nil || !bytes.Equal(again["new"], got["new"]) || !bytes.Equal(again["old"], plain) {
		t.Fatalf("reopened: %x %v", again, err)
	}
	if _, err := identity.OpenSecrets(ctx, st, bytes.Repeat([]byte{8}, 32), "old"); !errors.Is(err, identity.ErrSecretKey) {
		t.Fatalf("another key-encryption key: %v", err)
	}
}

// TestSubjects: a subject is stable for a member key in any case, differs per installation
// key, and maps back through the store.
func TestSubjects(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := identity.NewSubjectMapper(bytes.Repeat([]byte{1}, 32), st)
	sub := m.Subject("abcd-1")
	if sub != m.Subject(" ABCD-1 ") || len(sub) != 40 || strings.Contains(sub, "ABCD") {
		t.Fatalf("subject %q", sub)
	}
	if identity.NewSubjectMapper(bytes.Repeat([]byte{2}, 32), st).Subject("ABCD-1") == sub {
		t.Fatal("subjects do not depend on the installation key")
	}
	if got, err := m.Remember(ctx, "ABCD-1", "alice", time.Now()); err != nil || got != m.Subject("ABCD-1") {
		t.Fatalf("Remember = %q, %v", got, err)
	}
	// A fresh mapper (another process) finds it through the store.
	fresh := identity.NewSubjectMapper(bytes.Repeat([]byte{1}, 32), st)
	if key, err := fresh.MemberKey(ctx, m.Subject("ABCD-1")); err != nil || key != "ABCD-1" {
		t.Fatalf("MemberKey = %q, %v", key, err)
	}
	if _, err := fresh.MemberKey(ctx, "unknown"); err == nil {
		t.Fatal("unknown subject mapped")
	}
	var _ store.SubjectStore = st
}

func TestLogins(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"alice", "ALICE", true},
		{"ａｌｉｃｅ", "alice", true},
		{" alice ", "alice", true},
		{"alice", "alicf", false},
	} {
		if got := identity.CanonicalLogin(tt.a) == identity.CanonicalLogin(tt.b); got != tt.same {
			t.Errorf("CanonicalLogin(%q) == CanonicalLogin(%q): %v", tt.a, tt.b, got)
		}
		h := identity.NewLoginHasher([]byte("k"))
		if got := h.Hash(tt.a) == h.Hash(tt.b); got != tt.same {
			t.Errorf("Hash(%q) == Hash(%q): %v", tt.a, tt.b, got)
		}
	}
	h := identity.NewLoginHasher([]byte("k"))
	if x := h.Hash("alice"); !strings.HasPrefix(x, "hmac:") || strings.Contains(x, "alice") || x == identity.NewLoginHasher([]byte("other")).Hash("alice") {
		t.Fatalf("hash %q", x)
	}
	for _, l := range []string{"al\u00ADice", "ali\u200Bce", "alice\u200D", "\u2066alice", "a\x00b"} {
		if identity.LoginUsable(l) {
			t.Errorf("LoginUsable(%q)", l)
		}
	}
	if !identity.LoginUsable("Ålice.O'Brien@example.org") {
		t.Error("a real login refused")
	}
}

type rot struct{}

func (rot) Encrypt(s string) (string, error) { return "sealed:" + s, nil }
func (rot) Decrypt(s string) (string, error) {
	if p, ok := strings.CutPrefix(s, "sealed:"); ok {
		return p, nil
	}
	return "", errors.New("not sealed")
}

func TestSealerKeepsPurpose(t *testing.T) {
	s := identity.NewSealer(rot{})
	raw, err := s.Seal(identity.PurposeLogout, map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := s.Unseal(identity.PurposeLogout, raw, &v); err != nil || v["a"] != "b" {
		t.Fatalf("Unseal = %v, %v", v, err)
	}
	for _, tt := range []struct{ purpose, raw string }{
		{identity.PurposeHandoff, raw}, {identity.PurposeLogout, ""}, {identity.PurposeLogout, "junk"},
		{identity.PurposeLogout, strings.Repeat("x", 8193)},
	} {
		if err := s.Unseal(tt.purpose, tt.raw, &v); !errors.Is(err, identity.ErrSealed) {
			t.Errorf("Unseal(%q, %.20q) = %v", tt.purpose, tt.raw, err)
		}
	}
}

// TestCanonicalLoginASCII: the ASCII fast path gives what NFKC and case folding give, for every
// ASCII byte in every position and for random ASCII logins.
func TestCanonicalLoginASCII(t *testing.T) {
	var logins []string
	for c := range 128 {
		b := string(rune(c))
		logins = append(logins, b, "a"+b+"Z", " Al"+b+"ice@Example.ORG ")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(128))
		}
		logins = append(logins, string(b))
	}
	for _, l := range logins {
		if got, want := identity.CanonicalLogin(l), identity.FoldNFKC(strings.TrimSpace(l)); got != want {
			t.Fatalf("CanonicalLogin(%q) = %q, want %q", l, got, want)
		}
	}
}

// TestSubjectValue pins the subject derivation (the first 20 bytes of HMAC-SHA256 under the
// installation key over "sub:" and the trimmed, upper-cased member key, in hex): every
// subject already issued to an app depends on it, whatever computes it.
func TestSubjectValue(t *testing.T) {
	m := identity.NewSubjectMapper(bytes.Repeat([]byte{1}, 32), nil)
	for key, want := range map[string]string{
		"ABCD-1":                                 "cc07f072712eba6b665df6cb4ec7a2477f309314",
		" abcd-1\t":                              "cc07f072712eba6b665df6cb4ec7a2477f309314",
		"0f0e5c9a-6b1b-4e4c-9f3a-2d1c0b0a0908":   "8ff09163c1bd7b3c6977ebbbb7d9e5e3b59116b4",
		"{0F0E5C9A-6B1B-4E4C-9F3A-2D1C0B0A0908}": "", // braces are part of the text: another subject
	} {
		got := m.Subject(key)
		if want == "" {
			if got == m.Subject("0F0E5C9A-6B1B-4E4C-9F3A-2D1C0B0A0908") || len(got) != 40 {
				t.Errorf("Subject(%q) = %q", key, got)
			}
			continue
		}
		if got != want {
			t.Errorf("Subject(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestSubjectAllocations: deriving a subject allocates only its string (the keyed HMAC is
// reused). Before, each call keyed a new HMAC (about ten allocations); a sign-in derives the
// subject two or three times.
func TestSubjectAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops entries at random under the race detector")
	}
	m := identity.NewSubjectMapper(bytes.Repeat([]byte{1}, 32), nil)
	m.Subject("ABCD-1")
	if n := testing.AllocsPerRun(100, func() { m.Subject("0F0E5C9A-6B1B-4E4C-9F3A-2D1C0B0A0908") }); n > 1 {
		t.Errorf("%v allocations per subject, want 1", n)
	}
}
