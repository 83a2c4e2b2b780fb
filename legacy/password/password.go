package password

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/ssobridge/ssobridge/legacy"
)

// ASP.NET MembershipPasswordFormat values, as stored in aspnet_Membership.PasswordFormat.
const (
	FormatClear     = 0 // the password itself
	FormatHashed    = 1 // a hash (ASP.NET Membership, ASP.NET Identity v2/v3 or bcrypt)
	FormatEncrypted = 2 // encrypted with the site's machineKey: cannot be verified
)

// Default limits (see Options).
const (
	DefaultMaxIterations    = 10_000_000
	DefaultMaxBcryptCost    = 15
	DefaultMaxPasswordBytes = 1024
)

// bcryptMaxBytes is the longest password bcrypt reads; longer ones are truncated by every
// implementation that produced the hashes we verify.
const bcryptMaxBytes = 72

// Algorithm is the hash algorithm a site configures for new Membership passwords: the
// <membership hashAlgorithmType> of an ASP.NET site, lower-cased. Plain algorithms hash
// salt || UTF-16LE(password); keyed (HMAC) ones use the salt, repeated or truncated to the
// HMAC's default key length, as the key.
type Algorithm string

// Supported algorithms.
const (
	SHA1       Algorithm = "sha1"
	SHA256     Algorithm = "sha256"
	SHA384     Algorithm = "sha384"
	SHA512     Algorithm = "sha512"
	HMACSHA1   Algorithm = "hmacsha1"
	HMACSHA256 Algorithm = "hmacsha256"
	HMACSHA384 Algorithm = "hmacsha384"
	HMACSHA512 Algorithm = "hmacsha512"
)

// Algorithms lists the supported algorithm names.
func Algorithms() []Algorithm {
	return []Algorithm{SHA1, SHA256, SHA384, SHA512, HMACSHA1, HMACSHA256, HMACSHA384, HMACSHA512}
}

// ParseAlgorithm reads an algorithm name case-insensitively, ignoring '-' and '_' ("SHA256",
// "HMAC-SHA256", "hmac_sha512"). The empty string gives SHA256, iMIS's configured default.
func ParseAlgorithm(s string) (Algorithm, error) {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(s))
	if n == "" {
		return SHA256, nil
	}
	for _, a := range Algorithms() {
		if string(a) == n {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown hash algorithm %q (want one of sha1, sha256, sha384, sha512, hmacsha1, hmacsha256, hmacsha384, hmacsha512)", s)
}

// Keyed reports whether a is an HMAC algorithm.
func (a Algorithm) Keyed() bool { return strings.HasPrefix(string(a), "hmac") }

// spec describes one algorithm: its hash constructor, output size and HMAC key length
// (.NET's default key length for the HMAC class: 64 bytes for HMACSHA1/256, 128 for 384/512).
type spec struct {
	newHash func() hash.Hash
	size    int
	keyLen  int
}

func (a Algorithm) spec() (spec, bool) {
	switch strings.TrimPrefix(string(a), "hmac") {
	case "sha1":
		return spec{sha1.New, sha1.Size, 64}, true
	case "sha256":
		return spec{sha256.New, sha256.Size, 64}, true
	case "sha384":
		return spec{sha512.New384, sha512.Size384, 128}, true
	case "sha512":
		return spec{sha512.New, sha512.Size, 128}, true
	}
	return spec{}, false
}

// plainBySize maps a decoded Membership hash length to its plain algorithm.
func plainBySize(n int) (Algorithm, bool) {
	switch n {
	case sha1.Size:
		return SHA1, true
	case sha256.Size:
		return SHA256, true
	case sha512.Size384:
		return SHA384, true
	case sha512.Size:
		return SHA512, true
	}
	return "", false
}

// Options configure a Verifier. Zero values take the defaults.
type Options struct {
	// Algorithm is the site's configured hash algorithm (default SHA256). Hashed Membership
	// passwords are always checked with the plain algorithm their length implies; when
	// Algorithm is keyed (a site without hashAlgorithmType running in Framework40
	// compatibility mode hashes with the machineKey's HMAC), the HMAC of that length is
	// tried as well. Algorithm also sets the cost of Verifier.Dummy.
	Algorithm Algorithm
	// MaxIterations caps the PBKDF2 iteration count accepted from ASP.NET Identity v3 hashes.
	MaxIterations int
	// MaxBcryptCost caps the bcrypt cost accepted.
	MaxBcryptCost int
	// MaxPasswordBytes is the longest password (in UTF-8 bytes) that is hashed at all;
	// longer ones do not verify.
	MaxPasswordBytes int
}

// Verifier checks passwords against stored values. It is immutable and safe for concurrent use.
type Verifier struct {
	alg           Algorithm
	maxIterations int
	maxBcryptCost int
	maxPassword   int
}

// New returns a Verifier for opts.
func New(opts Options) (*Verifier, error) {
	v := &Verifier{
		alg:           opts.Algorithm,
		maxIterations: opts.MaxIterations,
		maxBcryptCost: opts.MaxBcryptCost,
		maxPassword:   opts.MaxPasswordBytes,
	}
	alg, err := ParseAlgorithm(string(opts.Algorithm))
	if err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	v.alg = alg
	switch {
	case v.maxIterations < 0:
		return nil, errors.New("password: MaxIterations must not be negative")
	case v.maxBcryptCost < 0 || v.maxBcryptCost > bcrypt.MaxCost:
		return nil, fmt.Errorf("password: MaxBcryptCost must be between 0 and %d", bcrypt.MaxCost)
	case v.maxPassword < 0:
		return nil, errors.New("password: MaxPasswordBytes must not be negative")
	}
	if v.maxIterations == 0 {
		v.maxIterations = DefaultMaxIterations
	}
	if v.maxBcryptCost == 0 {
		v.maxBcryptCost = DefaultMaxBcryptCost
	}
	if v.maxPassword == 0 {
		v.maxPassword = DefaultMaxPasswordBytes
	}
	return v, nil
}

// Default returns a Verifier with the default options (SHA256 site, default limits).
func Default() *Verifier {
	v, err := New(Options{})
	if err != nil {
		panic(err) // cannot happen: the defaults are valid
	}
	return v
}

// Verify reports whether password matches the stored value with the default options.
func Verify(format int, stored, salt, password string) (bool, error) {
	return Default().Verify(format, stored, salt, password)
}

// Algorithm returns the configured site algorithm.
func (v *Verifier) Algorithm() Algorithm { return v.alg }

// Verify reports whether password matches stored (with salt, the base64 PasswordSalt, for
// Membership hashes) in the given ASP.NET password format. A wrong password gives (false, nil).
// A stored value that cannot be verified (format 2, an unknown format or scheme, a malformed
// value, a work factor above the caps) gives an error wrapping legacy.ErrUnsupportedHash.
// Empty passwords, passwords longer than the cap and passwords that are not valid UTF-8
// never verify.
func (v *Verifier) Verify(format int, stored, salt, password string) (bool, error) {
	s, err := v.parse(format, stored, salt)
	if err != nil {
		return false, err
	}
	if password == "" || len(password) > v.maxPassword || !utf8.ValidString(password) {
		return false, nil
	}
	return s.verify(password)
}

// VerifyWork is Verify and Work of the same stored value, which it parses once (a sign-in
// verifies the member's value and then weighs it against the dummy the unknown logins spend).
func (v *Verifier) VerifyWork(format int, stored, salt, password string) (match bool, work int64, costed bool, err error) {
	s, err := v.parse(format, stored, salt)
	if err != nil {
		return false, 0, false, err
	}
	work, costed = s.work()
	if password == "" || len(password) > v.maxPassword || !utf8.ValidString(password) {
		return false, work, costed, nil
	}
	match, err = s.verify(password)
	return match, work, costed, err
}

// Info describes a stored value without revealing it (for diagnostics).
type Info struct {
	// Scheme names the detected scheme: "clear", "membership-sha256", "identity-v3",
	// "bcrypt", "encrypted", "unknown", ...
	Scheme string
	// Detail gives parameters (PRF, iterations, cost) or why the value cannot be verified.
	Detail string
	// Length is the length of the stored text; for hashes, Bytes is the decoded length.
	Length int
	Bytes  int
	// Supported is true when Verify can check passwords against the value.
	Supported bool
}

// Describe tells what kind of stored value this is, never its content.
func (v *Verifier) Describe(format int, stored, salt string) Info {
	s, err := v.parse(format, stored, salt)
	info := Info{Length: len(stored)}
	if err != nil {
		info.Scheme = "unsupported"
		if format == FormatEncrypted {
			info.Scheme = "encrypted"
		}
		info.Detail = strings.TrimPrefix(err.Error(), legacy.ErrUnsupportedHash.Error()+": ")
		return info
	}
	info.Scheme, info.Detail, info.Bytes, info.Supported = s.scheme, s.detail, len(s.want), true
	return info
}

// Hash is a stored password value as a Membership table holds it.
type Hash struct {
	Format int
	Stored string
	Salt   string
}

// Dummy returns a freshly made hash, in the configured algorithm, of a random password: a
// directory verifies against it when the login is unknown so that the answer takes as long as
// for a known login.
func (v *Verifier) Dummy() Hash {
	var pw [18]byte
	rand.Read(pw[:]) // never fails (crypto/rand panics instead)
	h, err := NewMembershipHash(v.alg, base64.RawStdEncoding.EncodeToString(pw[:]))
	if err != nil {
		panic(err) // cannot happen: v.alg was validated by New
	}
	return h
}

// DummyLike returns a freshly made hash of a random password with the scheme and work factor
// of the stored value (format, stored, salt): the same PBKDF2 function, iterations, salt and
// subkey lengths for ASP.NET Identity values, the same cost for bcrypt, the same algorithm for
// Membership ones. A directory verifies unknown logins against it so that they cost what its
// members' sign-ins cost (Dummy's one SHA-256 is far cheaper than PBKDF2 or bcrypt). ok is
// false for a value Verify cannot check, and for a clear one (nothing to spend).
func (v *Verifier) DummyLike(format int, stored, salt string) (h Hash, ok bool) {
	s, err := v.parse(format, stored, salt)
	if err != nil {
		return Hash{}, false
	}
	var pw [18]byte
	rand.Read(pw[:])
	random := base64.RawStdEncoding.EncodeToString(pw[:])
	switch s.kind {
	case kindMembership:
		alg, _ := plainBySize(len(s.want))
		if s.keyed != nil {
			alg = v.alg // both are tried: the keyed one is the site's algorithm
		}
		h, err := NewMembershipHash(alg, random)
		return h, err == nil
	case kindPBKDF2:
		salt := make([]byte, len(s.salt))
		rand.Read(salt)
		sub, err := pbkdf2.Key(s.prf, random, salt, s.iter, len(s.want))
		if err != nil {
			return Hash{}, false
		}
		raw, _ := b64.DecodeString(strings.TrimSpace(stored)) // parse decoded it already
		head := raw[:len(raw)-len(s.salt)-len(s.want)]        // version byte (and v3's header)
		out := append(append(append([]byte(nil), head...), salt...), sub...)
		return Hash{Format: FormatHashed, Stored: b64.EncodeToString(out)}, true
	case kindBcrypt:
		cost, _ := bcrypt.Cost(s.bhash)
		b, err := bcrypt.GenerateFromPassword([]byte(random), cost)
		if err != nil {
			return Hash{}, false
		}
		return Hash{Format: FormatHashed, Stored: string(b)}, true
	}
	return Hash{}, false
}

// Work estimates what verifying a password against the stored value costs, in units of about
// one SHA-256 compression: 2 per PBKDF2 iteration and output block, about 1,100 per bcrypt
// round (2^cost rounds; measured here: bcrypt cost 10 ~ 230 ms, PBKDF2-SHA256 10,000
// iterations ~ 4 ms), 2 for a Membership hash. It orders schemes and work factors, nothing
// more. ok is false for a value Verify cannot check, and for a clear one.
func (v *Verifier) Work(format int, stored, salt string) (work int64, ok bool) {
	s, err := v.parse(format, stored, salt)
	if err != nil {
		return 0, false
	}
	return s.work()
}

// work is Work of a parsed value.
func (s *storedValue) work() (int64, bool) {
	switch s.kind {
	case kindMembership:
		return 2, true
	case kindPBKDF2:
		size := s.prf().Size()
		blocks := (len(s.want) + size - 1) / size
		return 2 * int64(s.iter) * int64(max(blocks, 1)), true
	case kindBcrypt:
		cost, err := bcrypt.Cost(s.bhash)
		if err != nil {
			return 0, false
		}
		return 1100 << cost, true
	}
	return 0, false
}

// NewMembershipHash hashes password as an ASP.NET Membership provider configured with alg
// would, with a fresh 16-byte random salt.
func NewMembershipHash(alg Algorithm, password string) (Hash, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	stored, err := MembershipHash(alg, salt, password)
	if err != nil {
		return Hash{}, err
	}
	return Hash{Format: FormatHashed, Stored: stored, Salt: base64.StdEncoding.EncodeToString(salt)}, nil
}

// MembershipHash returns base64(H(salt || UTF-16LE(password))) for a plain alg, or
// base64(HMAC(key, UTF-16LE(password))) for a keyed one, key being salt repeated or truncated
// to the HMAC's key length (ASP.NET SqlMembershipProvider.EncodePassword, format 1).
func MembershipHash(alg Algorithm, salt []byte, password string) (string, error) {
	sp, ok := alg.spec()
	if !ok {
		return "", fmt.Errorf("password: unknown hash algorithm %q", alg)
	}
	if len(salt) == 0 {
		return "", errors.New("password: empty salt")
	}
	return base64.StdEncoding.EncodeToString(membershipDigest(sp, alg.Keyed(), salt, utf16le(password))), nil
}

func membershipDigest(sp spec, keyed bool, salt, pw []byte) []byte {
	if keyed {
		m := hmac.New(sp.newHash, hmacKey(salt, sp.keyLen))
		m.Write(pw)
		return m.Sum(nil)
	}
	h := sp.newHash()
	h.Write(salt)
	h.Write(pw)
	return h.Sum(nil)
}

// hmacKey repeats or truncates salt to n bytes, as SqlMembershipProvider does.
func hmacKey(salt []byte, n int) []byte {
	key := make([]byte, n)
	for i := 0; i < n; i += len(salt) {
		copy(key[i:], salt)
	}
	return key
}

// utf16le is .NET's Encoding.Unicode.GetBytes.
func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// stored is a parsed stored value, ready to verify.
type storedValue struct {
	scheme string
	detail string
	kind   int
	want   []byte // expected digest / subkey; for clear: SHA-256 of the stored password
	salt   []byte
	// membership
	plain spec
	keyed *spec
	// pbkdf2
	prf   func() hash.Hash
	iter  int
	bhash []byte // bcrypt
}

const (
	kindClear = iota
	kindMembership
	kindPBKDF2
	kindBcrypt
)

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{legacy.ErrUnsupportedHash}, args...)...)
}

var b64 = base64.StdEncoding

func (v *Verifier) parse(format int, stored, salt string) (*storedValue, error) {
	switch format {
	case FormatClear:
		if stored == "" {
			return nil, unsupported("clear password is empty")
		}
		sum := sha256.Sum256([]byte(stored))
		return &storedValue{scheme: "clear", kind: kindClear, want: sum[:]}, nil
	case FormatHashed:
	case FormatEncrypted:
		return nil, unsupported("format 2 (encrypted with the site's machineKey) cannot be verified")
	default:
		return nil, unsupported("unknown password format %d", format)
	}
	stored = strings.TrimSpace(stored)
	salt = strings.TrimSpace(salt)
	switch {
	case stored == "":
		return nil, unsupported("hashed password is empty")
	case strings.HasPrefix(stored, "$2a$"), strings.HasPrefix(stored, "$2b$"), strings.HasPrefix(stored, "$2y$"):
		cost, err := bcrypt.Cost([]byte(stored))
		if err != nil {
			return nil, unsupported("malformed bcrypt hash")
		}
		if cost > v.maxBcryptCost {
			return nil, unsupported("bcrypt cost %d above the limit %d", cost, v.maxBcryptCost)
		}
		return &storedValue{scheme: "bcrypt", detail: fmt.Sprintf("cost %d", cost), kind: kindBcrypt, bhash: []byte(stored)}, nil
	case strings.HasPrefix(stored, "$"):
		return nil, unsupported("unknown crypt-style scheme")
	}
	raw, err := b64.DecodeString(stored)
	if err != nil {
		return nil, unsupported("hashed password is not base64")
	}
	if salt != "" {
		return v.parseMembership(raw, salt)
	}
	switch {
	case len(raw) == 49 && raw[0] == 0x00:
		return &storedValue{scheme: "identity-v2", detail: "PBKDF2-HMAC-SHA1, 1000 iterations",
			kind: kindPBKDF2, prf: sha1.New, iter: 1000, salt: raw[1:17], want: raw[17:]}, nil
	case len(raw) > 0 && raw[0] == 0x01:
		return v.parseIdentityV3(raw)
	}
	return nil, unsupported("hash of %d bytes without a salt matches no known scheme", len(raw))
}

func (v *Verifier) parseMembership(raw []byte, salt string) (*storedValue, error) {
	saltBytes, err := b64.DecodeString(salt)
	if err != nil || len(saltBytes) == 0 {
		return nil, unsupported("password salt is not base64")
	}
	alg, ok := plainBySize(len(raw))
	if !ok {
		return nil, unsupported("Membership hash of %d bytes matches no SHA size", len(raw))
	}
	sp, _ := alg.spec()
	s := &storedValue{scheme: "membership-" + string(alg), kind: kindMembership, want: raw, salt: saltBytes, plain: sp}
	if v.alg.Keyed() {
		if ksp, _ := v.alg.spec(); ksp.size == len(raw) {
			s.keyed = &ksp
			s.detail = "also tried as " + strings.ToUpper(string(v.alg))
		}
	}
	return s, nil
}

func (v *Verifier) parseIdentityV3(raw []byte) (*storedValue, error) {
	const header = 13
	if len(raw) < header {
		return nil, unsupported("Identity v3 hash too short")
	}
	prf := binary.BigEndian.Uint32(raw[1:5])
	iter := binary.BigEndian.Uint32(raw[5:9])
	saltLen := binary.BigEndian.Uint32(raw[9:13])
	var (
		h    func() hash.Hash
		name string
	)
	switch prf {
	case 0:
		h, name = sha1.New, "HMACSHA1"
	case 1:
		h, name = sha256.New, "HMACSHA256"
	case 2:
		h, name = sha512.New, "HMACSHA512"
	default:
		return nil, unsupported("Identity v3 PRF %d unknown", prf)
	}
	switch {
	case iter < 1:
		return nil, unsupported("Identity v3 iteration count %d invalid", iter)
	case uint64(iter) > uint64(v.maxIterations):
		return nil, unsupported("Identity v3 iteration count %d above the limit %d", iter, v.maxIterations)
	case saltLen < 16 || uint64(saltLen) > uint64(len(raw)-header):
		return nil, unsupported("Identity v3 salt length %d invalid", saltLen)
	}
	subkey := raw[header+int(saltLen):]
	if len(subkey) < 16 {
		return nil, unsupported("Identity v3 subkey of %d bytes too short", len(subkey))
	}
	// PBKDF2's cost grows with the output length (iterations x blocks): ASP.NET Identity writes
	// 32 bytes; refuse absurd lengths that would multiply the work.
	if len(subkey) > 64 {
		return nil, unsupported("Identity v3 subkey of %d bytes too long", len(subkey))
	}
	return &storedValue{scheme: "identity-v3", detail: fmt.Sprintf("PBKDF2-%s, %d iterations", name, iter),
		kind: kindPBKDF2, prf: h, iter: int(iter), salt: raw[header : header+int(saltLen)], want: subkey}, nil
}

func (s *storedValue) verify(password string) (bool, error) {
	ok, err := s.verifyAsTyped(password)
	if ok || err != nil || (s.kind != kindClear && s.kind != kindMembership) {
		return ok, err
	}
	// ASP.NET's SqlMembershipProvider trims the password (String.Trim: every Unicode white
	// space) before hashing it in CreateUser, ChangePassword and ValidateUser, so a Membership
	// value is of the trimmed password and the AMS signs in a member who types it with white
	// space around it. The value as typed is tried first: a hash written by other code may be
	// of the untrimmed password. Identity and bcrypt hashes are never trimmed.
	if t := strings.TrimSpace(password); t != password && t != "" {
		return s.verifyAsTyped(t)
	}
	return false, nil
}

func (s *storedValue) verifyAsTyped(password string) (bool, error) {
	switch s.kind {
	case kindClear:
		sum := sha256.Sum256([]byte(password))
		return subtle.ConstantTimeCompare(sum[:], s.want) == 1, nil
	case kindMembership:
		pw := utf16le(password)
		ok := subtle.ConstantTimeCompare(membershipDigest(s.plain, false, s.salt, pw), s.want)
		if s.keyed != nil {
			ok |= subtle.ConstantTimeCompare(membershipDigest(*s.keyed, true, s.salt, pw), s.want)
		}
		return ok == 1, nil
	case kindPBKDF2:
		got, err := pbkdf2.Key(s.prf, password, s.salt, s.iter, len(s.want))
		if err != nil {
			return false, unsupported("PBKDF2 parameters refused: %v", err)
		}
		return subtle.ConstantTimeCompare(got, s.want) == 1, nil
	case kindBcrypt:
		pw := []byte(password)
		if len(pw) > bcryptMaxBytes {
			pw = pw[:bcryptMaxBytes]
		}
		// CompareHashAndPassword compares in constant time.
		err := bcrypt.CompareHashAndPassword(s.bhash, pw)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, unsupported("bcrypt hash refused")
		}
	}
	return false, unsupported("internal: unknown scheme")
}
