package sqldir_test

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/password"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// identityV3 is an ASP.NET Identity v3 hash (PBKDF2-HMAC-SHA256) of pw with iter iterations.
func identityV3(t *testing.T, pw string, iter uint32) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	sub, err := pbkdf2.Key(sha256.New, pw, salt, int(iter), 32)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte{0x01}
	raw = binary.BigEndian.AppendUint32(raw, 1)
	raw = binary.BigEndian.AppendUint32(raw, iter)
	raw = binary.BigEndian.AppendUint32(raw, 16)
	raw = append(append(raw, salt...), sub...)
	return base64.StdEncoding.EncodeToString(raw)
}

// describing records the scheme and work factor of every verification a directory makes.
type describing struct {
	v    *password.Verifier
	seen []password.Info
}

func (d *describing) Verify(format int, stored, salt, pw string) (bool, error) {
	d.seen = append(d.seen, d.v.Describe(format, stored, salt))
	return d.v.Verify(format, stored, salt, pw)
}

func (d *describing) last() password.Info { return d.seen[len(d.seen)-1] }

// Review s14 X: the dummy verification an unknown login spends must cost what a known login's
// costs. The dummy is a Membership hash of the configured algorithm (one SHA-256); a member
// whose stored value is an ASP.NET Identity v3 hash (PBKDF2, 10,000 iterations and up) or a
// bcrypt hash costs milliseconds to tens of milliseconds more, so timing a wrong password tells
// which logins exist (OWASP ASVS 2.2.1/WSTG-IDNT-04; the directory's own dummyVerify contract).
// And a member whose stored value cannot be verified at all (format 2) is answered with no
// hashing work: faster than an unknown login.
func TestDummyFollowsTheMembersHashCost(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored string
	}{
		{"identity-v3", identityV3(t, "alice-demo-1", 20_000)},
		{"bcrypt", func() string {
			h, err := bcrypt.GenerateFromPassword([]byte("alice-demo-1"), 8)
			if err != nil {
				t.Fatal(err)
			}
			return string(h)
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &describing{v: password.Default()}
			d, db := openDemo(t, sqldir.WithVerifier(rec))
			if _, err := db.ExecContext(ctx, `UPDATE aspnet_Membership SET Password = ?1, PasswordSalt = '', PasswordFormat = 1
				WHERE UserId = (SELECT UserId FROM aspnet_Users WHERE LoweredUserName = 'alice')`, tc.stored); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Authenticate(ctx, "alice", "wrong"); !errors.Is(err, legacy.ErrBadCredentials) {
				t.Fatalf("alice, wrong password: %v", err)
			}
			known := rec.last()
			if known.Scheme != tc.name {
				t.Fatalf("fixture: alice's value reads as %+v", known)
			}
			if _, err := d.Authenticate(ctx, "nobody", "wrong"); !errors.Is(err, legacy.ErrBadCredentials) {
				t.Fatalf("nobody: %v", err)
			}
			if got := rec.last(); got.Scheme != known.Scheme || got.Detail != known.Detail {
				t.Errorf("an unknown login is verified against %s (%s); a known one costs %s (%s): timing tells them apart",
					got.Scheme, got.Detail, known.Scheme, known.Detail)
			}
			// A member whose value cannot be verified (enzo: format 2) spends the same.
			n := len(rec.seen)
			if _, err := d.Authenticate(ctx, "enzo", "wrong"); !errors.Is(err, legacy.ErrUnsupportedHash) {
				t.Fatalf("enzo: %v", err)
			}
			spent := false
			for _, in := range rec.seen[n:] {
				spent = spent || (in.Scheme == known.Scheme && in.Detail == known.Detail)
			}
			if !spent {
				t.Errorf("an unverifiable member's sign-in spends %+v, no verification of the cost of the others", rec.seen[n:])
			}
			// A member with a cheap value (larry: the site's Membership hash) does not set the
			// dummy back: an attacker's own account cannot make the next guess cheap
			// (end-of-session review s14).
			n = len(rec.seen)
			if _, err := d.Authenticate(ctx, "larry", "wrong"); !errors.Is(err, legacy.ErrBadCredentials) {
				t.Fatalf("larry: %v", err)
			}
			if cheap := rec.seen[n]; cheap.Scheme == known.Scheme {
				t.Fatalf("fixture: larry's value reads as %+v, like alice's", cheap)
			}
			// ... and a wrong password for that cheap member spends the dummy as well, so it is
			// not answered faster than an unknown login (end-of-session review s14).
			if got := rec.last(); len(rec.seen) != n+2 || got.Scheme != known.Scheme || got.Detail != known.Detail {
				t.Errorf("a wrong password for larry spends %+v, not the dummy's %s (%s) too", rec.seen[n:], known.Scheme, known.Detail)
			}
			if _, err := d.Authenticate(ctx, "nobody", "wrong"); !errors.Is(err, legacy.ErrBadCredentials) {
				t.Fatalf("nobody: %v", err)
			}
			if got := rec.last(); got.Scheme != known.Scheme || got.Detail != known.Detail {
				t.Errorf("after a cheap member's sign-in an unknown login is verified against %s (%s), not %s (%s)",
					got.Scheme, got.Detail, known.Scheme, known.Detail)
			}
		})
	}
}
