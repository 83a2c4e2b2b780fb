package password

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	xpbkdf2 "golang.org/x/crypto/pbkdf2"
	"golang.org/x/text/encoding/unicode"

	"github.com/ssobridge/ssobridge/legacy"
)

// Reference vectors (shared/reference/imis.md §2): password P@ssw0rd!, salt bytes 00..0f.
const (
	refPassword = "P@ssw0rd!"
	refSalt     = "AAECAwQFBgcICQoLDA0ODw=="
	refSHA1     = "SudfkUxOFZBy35Buy7O8uJ73SNE="
	refSHA256   = "Wcds93jG6tKRZBBjPXTq1F3BXUyec1G6isWOIZs7I4o="
	refSHA512   = "lSirQkpnsmHtZlva8zuaXTNQ4qaziRh0mN4xAaD/s3dv+jzEAHqr7xFoKlxKCM2ymvsEvtYDcdaDiqHGwi5rIQ=="
	refHMAC256  = "wT+WqMQAJxcRLWNqA/SAddyIIJgDQ/heHeiWjtEVRak="
	refIDv2     = "AAABAgMEBQYHCAkKCwwNDg+0l1Y+KGyPL1ylhQFIANN5r4ZuUcbDvtAMK6TOY4bwPQ=="
	refIDv3_256 = "AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg8DdwjoEHz0/etJ9zIUuX2Uzuy5BEPAxcXc5K75Ln2FLQ=="
	refIDv3_512 = "AQAAAAIAAYagAAAAEAABAgMEBQYHCAkKCwwNDg9Gc2PPKbGpkdJm4WT4Hxci5hFecq/qbm93nDOXWGnqcw=="
	// iMIS's own seed row for IMISLOG (password unknown): a 20-byte SHA-1 Membership hash.
	imislogHash = "tnQvoHO1vEpl3Von8jhG/7tlhx0="
	imislogSalt = "dH6mEjQq6q6l+/TqIJekqg=="
)

// --- independent implementations, used only to make test vectors ---

func indepUTF16(t testing.TB, s string) []byte {
	t.Helper()
	b, err := unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func indepMembership(t testing.TB, h func() hash.Hash, salt []byte, pw string) string {
	m := h()
	m.Write(salt)
	m.Write(indepUTF16(t, pw))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func indepHMAC(t testing.TB, h func() hash.Hash, keyLen int, salt []byte, pw string) string {
	key := make([]byte, 0, keyLen)
	for len(key) < keyLen {
		key = append(key, salt[:min(len(salt), keyLen-len(key))]...)
	}
	m := hmac.New(h, key)
	m.Write(indepUTF16(t, pw))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// indepPBKDF2 is RFC 8018 PBKDF2 written out, independent of crypto/pbkdf2.
func indepPBKDF2(h func() hash.Hash, pw, salt []byte, iter, n int) []byte {
	var out []byte
	for block := uint32(1); len(out) < n; block++ {
		m := hmac.New(h, pw)
		m.Write(salt)
		m.Write(binary.BigEndian.AppendUint32(nil, block))
		u := m.Sum(nil)
		t := append([]byte(nil), u...)
		for i := 1; i < iter; i++ {
			m.Reset()
			m.Write(u)
			u = m.Sum(u[:0])
			for j := range t {
				t[j] ^= u[j]
			}
		}
		out = append(out, t...)
	}
	return out[:n]
}

func identityV3(prf uint32, iter uint32, salt, subkey []byte) string {
	b := []byte{0x01}
	b = binary.BigEndian.AppendUint32(b, prf)
	b = binary.BigEndian.AppendUint32(b, iter)
	b = binary.BigEndian.AppendUint32(b, uint32(len(salt)))
	b = append(b, salt...)
	b = append(b, subkey...)
	return base64.StdEncoding.EncodeToString(b)
}

func identityV2(salt, subkey []byte) string {
	return base64.StdEncoding.EncodeToString(append(append([]byte{0x00}, salt...), subkey...))
}

func mustVerifier(t testing.TB, o Options) *Verifier {
	t.Helper()
	v, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type vector struct {
	name     string
	opts     Options
	format   int
	stored   string
	salt     string
	password string
	want     bool
	wantErr  error
}

func vectors(t testing.TB) []vector {
	salt := []byte("0123456789abcdef")
	salt64 := base64.StdEncoding.EncodeToString(salt)
	odd := []byte("short-salt") // 10 bytes: repeated 7 times for a 64-byte HMAC key
	odd64 := base64.StdEncoding.EncodeToString(odd)
	long := make([]byte, 200) // longer than any HMAC key: truncated
	for i := range long {
		long[i] = byte(i)
	}
	long64 := base64.StdEncoding.EncodeToString(long)
	pw := "Zoë-ünïcødé-密码-🔑"
	v3s := []byte("sixteen byte slt")
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
	if err != nil {
		t.Fatal(err)
	}
	bcLong, err := bcrypt.GenerateFromPassword([]byte(strings.Repeat("x", 72)), 4)
	if err != nil {
		t.Fatal(err)
	}
	hmac256 := Options{Algorithm: HMACSHA256}
	return []vector{
		// reference vectors
		{name: "ref/sha1", format: 1, stored: refSHA1, salt: refSalt, password: refPassword, want: true},
		{name: "ref/sha256", format: 1, stored: refSHA256, salt: refSalt, password: refPassword, want: true},
		{name: "ref/sha512", format: 1, stored: refSHA512, salt: refSalt, password: refPassword, want: true},
		{name: "ref/sha256-wrong", format: 1, stored: refSHA256, salt: refSalt, password: "P@ssw0rd?", want: false},
		{name: "ref/sha256-case", format: 1, stored: refSHA256, salt: refSalt, password: "p@ssw0rd!", want: false},
		{name: "ref/hmacsha256", opts: hmac256, format: 1, stored: refHMAC256, salt: refSalt, password: refPassword, want: true},
		{name: "ref/hmacsha256-not-configured", format: 1, stored: refHMAC256, salt: refSalt, password: refPassword, want: false},
		{name: "ref/sha256-under-hmac-config", opts: hmac256, format: 1, stored: refSHA256, salt: refSalt, password: refPassword, want: true},
		{name: "ref/identity-v2", stored: refIDv2, format: 1, password: refPassword, want: true},
		{name: "ref/identity-v2-wrong", stored: refIDv2, format: 1, password: "nope", want: false},
		{name: "ref/identity-v3-sha256", stored: refIDv3_256, format: 1, password: refPassword, want: true},
		{name: "ref/identity-v3-sha512", stored: refIDv3_512, format: 1, password: refPassword, want: true},
		{name: "ref/identity-v3-sha512-wrong", stored: refIDv3_512, format: 1, password: refPassword + " ", want: false},

		// independently computed Membership hashes
		{name: "indep/sha1", format: 1, stored: indepMembership(t, sha1.New, salt, pw), salt: salt64, password: pw, want: true},
		{name: "indep/sha256", format: 1, stored: indepMembership(t, sha256.New, salt, pw), salt: salt64, password: pw, want: true},
		{name: "indep/sha384", format: 1, stored: indepMembership(t, sha512.New384, salt, pw), salt: salt64, password: pw, want: true},
		{name: "indep/sha512", format: 1, stored: indepMembership(t, sha512.New, salt, pw), salt: salt64, password: pw, want: true},
		{name: "indep/sha256-wrong-salt", format: 1, stored: indepMembership(t, sha256.New, salt, pw), salt: refSalt, password: pw, want: false},
		{name: "indep/hmacsha1", opts: Options{Algorithm: HMACSHA1}, format: 1, stored: indepHMAC(t, sha1.New, 64, salt, pw), salt: salt64, password: pw, want: true},
		{name: "indep/hmacsha256-repeated-salt", opts: hmac256, format: 1, stored: indepHMAC(t, sha256.New, 64, odd, pw), salt: odd64, password: pw, want: true},
		{name: "indep/hmacsha256-truncated-salt", opts: hmac256, format: 1, stored: indepHMAC(t, sha256.New, 64, long, pw), salt: long64, password: pw, want: true},
		{name: "indep/hmacsha384", opts: Options{Algorithm: HMACSHA384}, format: 1, stored: indepHMAC(t, sha512.New384, 128, salt, pw), salt: salt64, password: pw, want: true},
		{name: "indep/hmacsha512", opts: Options{Algorithm: HMACSHA512}, format: 1, stored: indepHMAC(t, sha512.New, 128, salt, pw), salt: salt64, password: pw, want: true},
		{name: "indep/hmacsha512-wrong", opts: Options{Algorithm: HMACSHA512}, format: 1, stored: indepHMAC(t, sha512.New, 128, salt, pw), salt: salt64, password: "x", want: false},

		// Identity
		{name: "indep/identity-v2", format: 1, stored: identityV2(salt, indepPBKDF2(sha1.New, []byte(pw), salt, 1000, 32)), password: pw, want: true},
		{name: "xcrypto/identity-v3-sha1", format: 1, stored: identityV3(0, 2000, v3s, xpbkdf2.Key([]byte(pw), v3s, 2000, 32, sha1.New)), password: pw, want: true},
		{name: "xcrypto/identity-v3-sha256", format: 1, stored: identityV3(1, 10000, v3s, xpbkdf2.Key([]byte(pw), v3s, 10000, 32, sha256.New)), password: pw, want: true},
		{name: "indep/identity-v3-sha512-long-salt", format: 1, stored: identityV3(2, 1500, []byte(strings.Repeat("s", 40)), indepPBKDF2(sha512.New, []byte(pw), []byte(strings.Repeat("s", 40)), 1500, 64)), password: pw, want: true},
		{name: "indep/identity-v3-wrong", format: 1, stored: identityV3(1, 1000, v3s, indepPBKDF2(sha256.New, []byte(pw), v3s, 1000, 32)), password: "wrong", want: false},
		{name: "identity-v3-iterations-cap", opts: Options{MaxIterations: 5000}, format: 1, stored: identityV3(1, 10000, v3s, make([]byte, 32)), password: pw, wantErr: legacy.ErrUnsupportedHash},
		{name: "identity-v3-huge-iterations", format: 1, stored: identityV3(1, 0xFFFFFFFF, v3s, make([]byte, 32)), password: pw, wantErr: legacy.ErrUnsupportedHash},
		{name: "identity-v3-zero-iterations", format: 1, stored: identityV3(1, 0, v3s, make([]byte, 32)), password: pw, wantErr: legacy.ErrUnsupportedHash},
		{name: "identity-v3-prf-unknown", format: 1, stored: identityV3(3, 1000, v3s, make([]byte, 32)), password: pw, wantErr: legacy.ErrUnsupportedHash},
		{name: "identity-v3-short-salt", format: 1, stored: identityV3(1, 1000, v3s[:8], make([]byte, 32)), password: pw, wantErr: legacy.ErrUnsupportedHash},
		{name: "identity-v3-short-subkey", format: 1, stored: identityV3(1, 1000, v3s, make([]byte, 8)), password: pw, wantErr: legacy.ErrUnsupportedHash},
		{name: "identity-v3-saltlen-overflow", format: 1, stored: identityV3(1, 1000, v3s, make([]byte, 32))[:20] + "////////", password: pw, wantErr: legacy.ErrUnsupportedHash},

		// bcrypt
		{name: "bcrypt/2a", format: 1, stored: string(bc), password: pw, want: true},
		{name: "bcrypt/2b", format: 1, stored: "$2b$" + string(bc[4:]), password: pw, want: true},
		{name: "bcrypt/2y", format: 1, stored: "$2y$" + string(bc[4:]), password: pw, want: true},
		{name: "bcrypt/wrong", format: 1, stored: string(bc), password: pw + "!", want: false},
		{name: "bcrypt/72-byte-truncation", format: 1, stored: string(bcLong), password: strings.Repeat("x", 100), want: true},
		{name: "bcrypt/cost-cap", opts: Options{MaxBcryptCost: 4}, format: 1, stored: "$2a$05$" + string(bc[7:]), password: pw, wantErr: legacy.ErrUnsupportedHash},
		{name: "bcrypt/2x-refused", format: 1, stored: "$2x$" + string(bc[4:]), password: pw, wantErr: legacy.ErrUnsupportedHash},
		{name: "bcrypt/malformed", format: 1, stored: "$2a$10$short", password: pw, wantErr: legacy.ErrUnsupportedHash},

		// clear
		{name: "clear/match", format: 0, stored: pw, password: pw, want: true},
		{name: "clear/mismatch", format: 0, stored: pw, password: pw[:5], want: false},
		{name: "clear/prefix", format: 0, stored: "abc", password: "abcd", want: false},
		{name: "clear/empty-stored", format: 0, stored: "", password: "", wantErr: legacy.ErrUnsupportedHash},

		// refused inputs
		{name: "empty-password-clear", format: 0, stored: "x", password: "", want: false},
		{name: "empty-password-hash", format: 1, stored: refSHA256, salt: refSalt, password: "", want: false},
		{name: "password-too-long", opts: Options{MaxPasswordBytes: 8}, format: 0, stored: "123456789", password: "123456789", want: false},
		{name: "password-invalid-utf8", format: 0, stored: "a\xffb", password: "a\xffb", want: false},
		{name: "encrypted", format: 2, stored: refSHA256, salt: refSalt, password: refPassword, wantErr: legacy.ErrUnsupportedHash},
		{name: "unknown-format", format: 7, stored: refSHA256, salt: refSalt, password: refPassword, wantErr: legacy.ErrUnsupportedHash},
		{name: "negative-format", format: -1, stored: refSHA256, salt: refSalt, password: refPassword, wantErr: legacy.ErrUnsupportedHash},
		{name: "not-base64", format: 1, stored: "not base64!!", salt: refSalt, password: refPassword, wantErr: legacy.ErrUnsupportedHash},
		{name: "salt-not-base64", format: 1, stored: refSHA256, salt: "%%%", password: refPassword, wantErr: legacy.ErrUnsupportedHash},
		{name: "md5-size", format: 1, stored: base64.StdEncoding.EncodeToString(make([]byte, 16)), salt: refSalt, password: refPassword, wantErr: legacy.ErrUnsupportedHash},
		{name: "unsalted-sha256", format: 1, stored: refSHA256, password: refPassword, wantErr: legacy.ErrUnsupportedHash},
		{name: "empty-stored", format: 1, stored: "", salt: refSalt, password: refPassword, wantErr: legacy.ErrUnsupportedHash},
		{name: "crypt-sha512", format: 1, stored: "$6$salt$abc", password: refPassword, wantErr: legacy.ErrUnsupportedHash},
		{name: "whitespace-tolerated", format: 1, stored: " " + refSHA256 + "\n", salt: refSalt + " ", password: refPassword, want: true},
	}
}

func TestVerify(t *testing.T) {
	for _, tc := range vectors(t) {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerifier(t, tc.opts)
			got, err := v.Verify(tc.format, tc.stored, tc.salt, tc.password)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if got {
					t.Fatal("verified despite error")
				}
				if strings.Contains(err.Error(), tc.stored) && tc.stored != "" {
					t.Fatal("error message contains the stored value")
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if got != tc.want {
				t.Fatalf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMembershipHashMatchesReference(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString(refSalt)
	for alg, want := range map[Algorithm]string{SHA1: refSHA1, SHA256: refSHA256, SHA512: refSHA512, HMACSHA256: refHMAC256} {
		got, err := MembershipHash(alg, salt, refPassword)
		if err != nil || got != want {
			t.Errorf("MembershipHash(%s) = %q, %v; want %q", alg, got, err, want)
		}
	}
	if _, err := MembershipHash(SHA256, nil, "x"); err == nil {
		t.Error("empty salt accepted")
	}
	if _, err := MembershipHash("md5", salt, "x"); err == nil {
		t.Error("md5 accepted")
	}
}

func TestNewMembershipHashRoundTrip(t *testing.T) {
	for _, alg := range Algorithms() {
		h, err := NewMembershipHash(alg, "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		v := mustVerifier(t, Options{Algorithm: alg})
		if ok, err := v.Verify(h.Format, h.Stored, h.Salt, "s3cret"); !ok || err != nil {
			t.Errorf("%s: Verify = %v, %v", alg, ok, err)
		}
		if ok, _ := v.Verify(h.Format, h.Stored, h.Salt, "s3cret!"); ok {
			t.Errorf("%s: wrong password verified", alg)
		}
	}
}

func TestDummy(t *testing.T) {
	for _, alg := range Algorithms() {
		v := mustVerifier(t, Options{Algorithm: alg})
		d := v.Dummy()
		info := v.Describe(d.Format, d.Stored, d.Salt)
		if !info.Supported {
			t.Errorf("%s: dummy not verifiable: %+v", alg, info)
		}
		if ok, err := v.Verify(d.Format, d.Stored, d.Salt, "anything"); ok || err != nil {
			t.Errorf("%s: dummy verified: %v %v", alg, ok, err)
		}
		if alg.Keyed() && !strings.Contains(info.Detail, strings.ToUpper(string(alg))) {
			t.Errorf("%s: dummy does not exercise the keyed path: %+v", alg, info)
		}
	}
	a, b := Default().Dummy(), Default().Dummy()
	if a.Salt == b.Salt || a.Stored == b.Stored {
		t.Error("dummy hashes are not random")
	}
}

func TestDescribe(t *testing.T) {
	v := Default()
	bc, _ := bcrypt.GenerateFromPassword([]byte("x"), 4)
	for _, tc := range []struct {
		format       int
		stored, salt string
		scheme       string
		bytes        int
		supported    bool
	}{
		{1, imislogHash, imislogSalt, "membership-sha1", 20, true},
		{1, refSHA256, refSalt, "membership-sha256", 32, true},
		{1, refSHA512, refSalt, "membership-sha512", 64, true},
		{1, refIDv2, "", "identity-v2", 32, true},
		{1, refIDv3_512, "", "identity-v3", 32, true},
		{1, string(bc), "", "bcrypt", 0, true},
		{0, "secret", "", "clear", 32, true},
		{2, "abc", "def", "encrypted", 0, false},
		{1, "???", refSalt, "unsupported", 0, false},
	} {
		info := v.Describe(tc.format, tc.stored, tc.salt)
		if info.Scheme != tc.scheme || info.Bytes != tc.bytes || info.Supported != tc.supported || info.Length != len(tc.stored) {
			t.Errorf("Describe(%d, %.8s…) = %+v", tc.format, tc.stored, info)
		}
		if len(tc.stored) > 3 && strings.Contains(info.Detail, tc.stored) {
			t.Errorf("Describe leaks the stored value: %+v", info)
		}
	}
	if d := v.Describe(1, identityV3(2, 100000, []byte("sixteen byte slt"), make([]byte, 32)), ""); d.Detail != "PBKDF2-HMACSHA512, 100000 iterations" {
		t.Errorf("identity v3 detail = %q", d.Detail)
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]Algorithm{"": SHA256, "SHA256": SHA256, "HMACSHA256": HMACSHA256, "hmac-sha512": HMACSHA512, "sha_1": SHA1, "SHA384": SHA384} {
		got, err := ParseAlgorithm(in)
		if err != nil || got != want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"md5", "sha3", "pbkdf2"} {
		if _, err := ParseAlgorithm(in); err == nil {
			t.Errorf("ParseAlgorithm(%q) accepted", in)
		}
	}
	if _, err := New(Options{Algorithm: "md5"}); err == nil {
		t.Error("New accepted md5")
	}
	if _, err := New(Options{MaxIterations: -1}); err == nil {
		t.Error("New accepted negative MaxIterations")
	}
	if _, err := New(Options{MaxBcryptCost: 32}); err == nil {
		t.Error("New accepted bcrypt cost 32")
	}
	if v, err := New(Options{Algorithm: "HMACSHA512"}); err != nil || v.Algorithm() != HMACSHA512 {
		t.Errorf("New(HMACSHA512) = %v, %v", v, err)
	}
}

func TestPackageVerify(t *testing.T) {
	if ok, err := Verify(1, refSHA256, refSalt, refPassword); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}

func FuzzVerify(f *testing.F) {
	for _, tc := range vectors(f) {
		f.Add(tc.format, tc.stored, tc.salt, tc.password)
	}
	f.Add(1, "AQAAAAIAAYagAAAAEA==", "", "x")
	f.Add(1, "AA==", "", "x")
	f.Add(1, "AQ==", "", "x")
	// Low caps keep each fuzz input cheap; the parsing paths are the same.
	v := mustVerifier(f, Options{MaxIterations: 2000, MaxBcryptCost: 5, MaxPasswordBytes: 256})
	kv := mustVerifier(f, Options{Algorithm: HMACSHA512, MaxIterations: 2000, MaxBcryptCost: 5})
	f.Fuzz(func(t *testing.T, format int, stored, salt, password string) {
		for _, v := range []*Verifier{v, kv} {
			ok, err := v.Verify(format, stored, salt, password)
			if ok && err != nil {
				t.Fatalf("ok with error %v", err)
			}
			if err != nil && !errors.Is(err, legacy.ErrUnsupportedHash) {
				t.Fatalf("error %v does not wrap ErrUnsupportedHash", err)
			}
			if ok && password == "" {
				t.Fatal("empty password verified")
			}
			info := v.Describe(format, stored, salt)
			if err == nil && !info.Supported {
				t.Fatalf("Describe says unsupported but Verify succeeded: %+v", info)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	salt := []byte("0123456789abcdef")
	salt64 := base64.StdEncoding.EncodeToString(salt)
	pw := "correct horse battery staple"
	bc, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	v3s := []byte("sixteen byte slt")
	cases := []struct {
		name         string
		opts         Options
		stored, salt string
		format       int
	}{
		{"clear", Options{}, pw, "", 0},
		{"membership-sha1", Options{}, indepMembership(b, sha1.New, salt, pw), salt64, 1},
		{"membership-sha256", Options{}, indepMembership(b, sha256.New, salt, pw), salt64, 1},
		{"membership-sha512", Options{}, indepMembership(b, sha512.New, salt, pw), salt64, 1},
		{"membership-hmacsha256", Options{Algorithm: HMACSHA256}, indepHMAC(b, sha256.New, 64, salt, pw), salt64, 1},
		{"identity-v2", Options{}, identityV2(salt, indepPBKDF2(sha1.New, []byte(pw), salt, 1000, 32)), "", 1},
		{"identity-v3-sha256-10k", Options{}, identityV3(1, 10000, v3s, indepPBKDF2(sha256.New, []byte(pw), v3s, 10000, 32)), "", 1},
		{"identity-v3-sha512-100k", Options{}, identityV3(2, 100000, v3s, indepPBKDF2(sha512.New, []byte(pw), v3s, 100000, 32)), "", 1},
		{"bcrypt-10", Options{}, string(bc), "", 1},
	}
	for _, c := range cases {
		v := mustVerifier(b, c.opts)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if ok, err := v.Verify(c.format, c.stored, c.salt, pw); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// TestVerifyWorkIsVerifyAndWork: VerifyWork answers, for every vector, what Verify and Work
// answer for the same value (it parses the value once for both).
func TestVerifyWorkIsVerifyAndWork(t *testing.T) {
	for _, tc := range vectors(t) {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerifier(t, tc.opts)
			want, werr := v.Verify(tc.format, tc.stored, tc.salt, tc.password)
			wantWork, wantCosted := v.Work(tc.format, tc.stored, tc.salt)
			got, work, costed, err := v.VerifyWork(tc.format, tc.stored, tc.salt, tc.password)
			if got != want || work != wantWork || costed != wantCosted || (err == nil) != (werr == nil) ||
				(werr != nil && err.Error() != werr.Error()) {
				t.Fatalf("VerifyWork = %v %d %v %v; Verify %v %v, Work %d %v", got, work, costed, err, want, werr, wantWork, wantCosted)
			}
		})
	}
}

// BenchmarkSignInVerify is what a sign-in asks of the verifier for a member with the iMIS
// default hash (Membership SHA-256): Verify then Work (parsed twice), or VerifyWork (once).
func BenchmarkSignInVerify(b *testing.B) {
	v := mustVerifier(b, Options{})
	b.Run("verify+work", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = v.Verify(1, refSHA256, refSalt, refPassword)
			_, _ = v.Work(1, refSHA256, refSalt)
		}
	})
	b.Run("verifywork", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _, _, _ = v.VerifyWork(1, refSHA256, refSalt, refPassword)
		}
	})
}
