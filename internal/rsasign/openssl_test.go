//go:build cgo && linux

package rsasign

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"runtime"
	"testing"
)

// TestSignRefusesAWrongSignature: a signature that does not verify with the key's public half
// (libcrypto holding other numbers than the Key says, as a fault would leave it) is refused.
func TestSignRefusesAWrongSignature(t *testing.T) {
	l := open(t)
	k, err := l.Load(key(t, 2048))
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("payload"))
	k.pub = other.PublicKey
	if sig, err := k.Sign(d[:]); err == nil {
		t.Fatalf("a signature that does not verify was returned: %x", sig[:8])
	}
}

// TestGateFollowsGOMAXPROCS: the number of signatures admitted at once follows GOMAXPROCS as
// it is when a signature starts, not as it was at Open (the runtime changes it when a
// cgroup's CPU limit changes; review s25 W-4).
func TestGateFollowsGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	l := open(t)
	k, err := l.Load(key(t, 2048))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("payload"))
	for _, procs := range []int{2, 1, 3, 3} {
		runtime.GOMAXPROCS(procs)
		if _, err := k.Sign(d[:]); err != nil {
			t.Fatal(err)
		}
		if got := cap(*l.running.Load()); got != procs {
			t.Errorf("GOMAXPROCS %d: the gate admits %d signatures at once", procs, got)
		}
		if got := len(*l.running.Load()); got != 0 {
			t.Errorf("GOMAXPROCS %d: %d turns not given back", procs, got)
		}
	}
}
