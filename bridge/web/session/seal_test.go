package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
)

func sealKeys(hashLen, blockLen int) (hashKey, blockKey []byte) {
	hashKey = []byte(strings.Repeat("h", hashLen))
	blockKey = []byte(strings.Repeat("b", blockLen))
	return
}

// gorilla is the codec the sealer replaces, as sessions.NewCookieStore built it.
func gorilla(hashKey, blockKey []byte, sz securecookie.Serializer) *securecookie.SecureCookie {
	sc := securecookie.New(hashKey, blockKey)
	sc.MaxAge(86400 * 30)
	sc.SetSerializer(sz)
	return sc
}

var sealValues = []map[interface{}]interface{}{
	{},
	{"bid": "x"},
	{"bid": "Zoë", "sid": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789a", "abk": "nonce", "pending": "request-id"},
	{"sid": strings.Repeat("s", 900)},
}

// TestSealerIsSecurecookie: a cookie the sealer writes is read by gorilla securecookie (with
// gob's serializer and with ours) and the sealer reads what securecookie writes, for every AES
// key size; so cookies keep working across the change, on older replicas and back.
func TestSealerIsSecurecookie(t *testing.T) {
	for _, kl := range [][2]int{{32, 16}, {64, 32}, {32, 24}} {
		hk, bk := sealKeys(kl[0], kl[1])
		s := newSealer(hk, bk)
		for _, sz := range []securecookie.Serializer{securecookie.GobEncoder{}, gobStrings{}} {
			g := gorilla(hk, bk, sz)
			for _, m := range sealValues {
				ours, err := s.Encode("ssobridge", m)
				if err != nil {
					t.Fatal(err)
				}
				got := map[interface{}]interface{}{}
				if err := g.Decode("ssobridge", ours, &got); err != nil || !maps.Equal(got, m) {
					t.Fatalf("keys %v: securecookie reads our %v as %v (%v)", kl, m, got, err)
				}
				theirs, err := g.Encode("ssobridge", m)
				if err != nil {
					t.Fatal(err)
				}
				got = map[interface{}]interface{}{}
				if err := s.Decode("ssobridge", theirs, &got); err != nil || !maps.Equal(got, m) {
					t.Fatalf("keys %v: we read securecookie's %v as %v (%v)", kl, m, got, err)
				}
				if len(ours) != len(theirs) {
					t.Fatalf("keys %v: our cookie is %d characters, securecookie's %d", kl, len(ours), len(theirs))
				}
			}
		}
	}
	if newSealer(nil, []byte("0123456789abcdef")) != nil || newSealer([]byte("k"), []byte("short")) != nil {
		t.Fatal("a sealer for keys securecookie refuses")
	}
}

// TestSealerRefuses: a cookie with any character changed, under another name or key, too old,
// too long, or not of the format is refused (and nothing panics); one as old as allowed is read.
func TestSealerRefuses(t *testing.T) {
	hk, bk := sealKeys(32, 32)
	s := newSealer(hk, bk)
	m := sealValues[2]
	c, err := s.Encode("ssobridge", m)
	if err != nil {
		t.Fatal(err)
	}
	dec := func(s *sealer, name, v string) error {
		got := map[interface{}]interface{}{}
		return s.Decode(name, v, &got)
	}
	raw, _ := base64.URLEncoding.DecodeString(c)
	for i := range raw {
		for _, bit := range []byte{1, 0x80} {
			b := []byte(string(raw))
			b[i] ^= bit
			if err := dec(s, "ssobridge", base64.URLEncoding.EncodeToString(b)); err == nil {
				t.Fatalf("byte %d changed (^%#x): cookie read", i, bit)
			}
		}
	}
	for i := range c {
		b := []byte(c)
		b[i] = 'A' + (b[i]+1)%26
		if b[i] == c[i] {
			continue
		}
		if err := dec(s, "ssobridge", string(b)); err == nil && string(b) != c {
			// base64 may map two strings to the same bytes only at padding: then it is the same cookie.
			if bb, _ := base64.URLEncoding.DecodeString(string(b)); string(bb) != string(raw) {
				t.Fatalf("character %d changed: cookie read", i)
			}
		}
	}
	if dec(s, "__Host-ssobridge", c) == nil {
		t.Fatal("read under another name")
	}
	other := newSealer([]byte(strings.Repeat("x", 32)), bk)
	if dec(other, "ssobridge", c) == nil {
		t.Fatal("read under another hash key")
	}
	for _, junk := range []string{"", "!!!", base64.URLEncoding.EncodeToString([]byte("1|2")),
		base64.URLEncoding.EncodeToString([]byte("nodate")), strings.Repeat("A", 4097)} {
		if dec(s, "ssobridge", junk) == nil {
			t.Fatalf("%q read", junk)
		}
	}
	now := time.Now()
	old := newSealer(hk, bk)
	old.now = func() time.Time { return now.Add(-30*24*time.Hour + time.Minute) }
	c29, _ := old.Encode("ssobridge", m)
	old.now = func() time.Time { return now.Add(-30*24*time.Hour - time.Minute) }
	c31, _ := old.Encode("ssobridge", m)
	g := gorilla(hk, bk, gobStrings{})
	if err := dec(s, "ssobridge", c29); err != nil {
		t.Fatalf("a cookie just under 30 days old refused: %v", err)
	}
	if dec(s, "ssobridge", c31) == nil {
		t.Fatal("a cookie over 30 days old read")
	}
	if err := g.Decode("ssobridge", c31, &map[interface{}]interface{}{}); err == nil {
		t.Fatal("securecookie reads a cookie over 30 days old: the limits differ")
	}
	if _, err := s.Encode("ssobridge", map[interface{}]interface{}{"x": strings.Repeat("y", 4000)}); err == nil {
		t.Fatal("a cookie over 4096 characters written")
	}
}

// TestSealerAllocs is the allocation budget of sealing and opening a login's cookie;
// securecookie took 19 and 33 (with the earlier Deserialize).
func TestSealerAllocs(t *testing.T) {
	hk, bk := sealKeys(32, 32)
	s := newSealer(hk, bk)
	m := sealValues[2]
	c, _ := s.Encode("ssobridge", m)
	if raceEnabled {
		t.Skip("allocation budgets do not hold under the race detector (sync.Pool drops items)")
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = s.Encode("ssobridge", m) }); n > 8 {
		t.Fatalf("Encode: %v allocations, budget 8", n)
	}
	if n := testing.AllocsPerRun(200, func() {
		got := map[interface{}]interface{}{}
		_ = s.Decode("ssobridge", c, &got)
	}); n > 14 {
		t.Fatalf("Decode: %v allocations, budget 14", n)
	}
}

// TestCSRFForIsHMAC pins the form token: base64url(HMAC-SHA256(csrf key, "csrf:" + browser id)),
// also when the pooled MAC is reused.
func TestCSRFForIsHMAC(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	cs := New(Config{HashKey: key, BlockKey: key, CSRFKey: key}, nil, nil)
	for _, bid := range []string{"a", "browser-id", "", strings.Repeat("z", 100), "a"} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte("csrf:" + bid))
		if want, got := base64.RawURLEncoding.EncodeToString(m.Sum(nil)), cs.csrfFor(bid); got != want {
			t.Fatalf("csrfFor(%q) = %s, want %s", bid, got, want)
		}
	}
	// The token string is its one allocation (budget 2).
	if raceEnabled {
		return // sync.Pool drops items under the race detector: no allocation budget holds
	}
	if n := testing.AllocsPerRun(100, func() { _ = cs.csrfFor("browser-id") }); n > 2 {
		t.Fatalf("csrfFor: %v allocations, budget 2", n)
	}
}

// BenchmarkSealer seals and opens a login's cookie with gorilla securecookie (as the store
// used it) and with the sealer.
func BenchmarkSealer(b *testing.B) {
	hk, bk := sealKeys(32, 32)
	m := sealValues[2]
	for _, c := range []struct {
		name string
		c    securecookie.Codec
	}{{"securecookie", gorilla(hk, bk, gobStrings{})}, {"sealer", newSealer(hk, bk)}} {
		b.Run(c.name, func(b *testing.B) {
			v, _ := c.c.Encode("ssobridge", m)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.c.Encode("ssobridge", m)
				got := map[interface{}]interface{}{}
				_ = c.c.Decode("ssobridge", v, &got)
			}
		})
	}
}
