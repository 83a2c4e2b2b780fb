package rsasign

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"os"
	"runtime"
	"sync"
	"testing"
)

// open returns the library, or skips where this build or machine has none. CI (CI=true) runs
// the cgo build on Debian with libssl3 installed: there, not opening is a failure.
func open(t testing.TB) *Library {
	t.Helper()
	l, err := Open()
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Open: %v is not ErrUnavailable", err)
		}
		if os.Getenv("CI") == "true" && CanOpen {
			t.Fatalf("CI has libssl3 and a cgo build: %v", err)
		}
		t.Skip(err)
	}
	return l
}

var keys = map[int]*rsa.PrivateKey{}
var keysMu sync.Mutex

func key(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k := keys[bits]; k != nil {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	keys[bits] = k
	return k
}

// TestSameSignatureAsGo: PKCS #1 v1.5 is deterministic, so libcrypto's signature of a digest
// is crypto/rsa's, byte for byte, for every key size the bridge may hold.
func TestSameSignatureAsGo(t *testing.T) {
	l := open(t)
	t.Logf("libcrypto %s", l.Version())
	for _, bits := range []int{2048, 3072, 4096} {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			priv := key(t, bits)
			k, err := l.Load(priv)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 20; i++ {
				msg := make([]byte, i*37)
				_, _ = rand.Read(msg)
				d := sha256.Sum256(msg)
				got, err := k.Sign(d[:])
				if err != nil {
					t.Fatal(err)
				}
				want, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d[:])
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("message %d: libcrypto's signature differs from crypto/rsa's", i)
				}
			}
		})
	}
}

// TestSignRefusesWhatIsNotADigest: only a SHA-256 digest is signed.
func TestSignRefusesWhatIsNotADigest(t *testing.T) {
	l := open(t)
	k, err := l.Load(key(t, 2048))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 31, 33, 48, 64} {
		if _, err := k.Sign(make([]byte, n)); err == nil {
			t.Fatalf("a %d-byte digest was signed", n)
		}
	}
}

// TestLoadRefusesABrokenKey: a key whose parts do not agree is refused before libcrypto sees it
// (libcrypto would sign with it, and the check after signing would then refuse every token).
func TestLoadRefusesABrokenKey(t *testing.T) {
	l := open(t)
	good := key(t, 2048)
	bad := *good
	bad.Primes = []*big.Int{new(big.Int).Set(good.Primes[0]), new(big.Int).Add(good.Primes[1], big.NewInt(2))}
	if _, err := l.Load(&bad); err == nil {
		t.Fatal("a key with a wrong prime was loaded")
	}
}

// TestConcurrentSignAndCollect signs from many goroutines at once (more than the idle contexts
// kept), and lets keys be collected while others sign: run with -race; a use after free in the
// cleanup would crash or give a signature that does not verify.
func TestConcurrentSignAndCollect(t *testing.T) {
	l := open(t)
	priv := key(t, 2048)
	k, err := l.Load(priv)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("payload"))
	want, _ := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d[:])
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 3*maxIdle; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				got, err := k.Sign(d[:])
				if err == nil && !bytes.Equal(got, want) {
					err = errors.New("wrong signature")
				}
				if err != nil {
					errs <- err
					return
				}
				// A key made and dropped each round: its cleanup runs while k signs.
				if tmp, err := l.Load(priv); err == nil {
					_, _ = tmp.Sign(d[:])
				}
				runtime.GC()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestOpenTwice: opening again gives a working library (dlopen counts references).
func TestOpenTwice(t *testing.T) {
	a := open(t)
	b := open(t)
	if a.Version() != b.Version() || a.Version() == "" {
		t.Fatalf("versions %q and %q", a.Version(), b.Version())
	}
}

// BenchmarkSign compares crypto/rsa and libcrypto on one 2048-bit key in the same run
// (-cpu 1; the ratio is what matters on a noisy machine).
func BenchmarkSign(b *testing.B) {
	priv := key(b, 2048)
	d := sha256.Sum256([]byte("payload"))
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			if _, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("openssl", func(b *testing.B) {
		k, err := open(b).Load(priv)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := k.Sign(d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		sig, _ := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d[:])
		for b.Loop() {
			if err := verify(&priv.PublicKey, d[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}
