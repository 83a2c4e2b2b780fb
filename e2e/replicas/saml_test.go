package replicas

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
)

// A SAML SP registered with the CLI (the shared database) is served by B at once: B's SP
// registry is refreshed by the change notification the CLI sends (cluster.TopicSAML), and so
// is its removal.
func TestSAMLSPRegisteredWithCLIWorksOnB(t *testing.T) {
	e := newEnv(t, 2, "")
	b := e.replicas[1]
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func() int {
		resp, err := noFollow.Get(b.url + "/saml/start/lms")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := status(); st != http.StatusNotFound {
		t.Fatalf("B before the registration: %d, want 404", st)
	}
	md := filepath.Join(t.TempDir(), "lms.xml")
	if err := os.WriteFile(md, spMetadata(t, "https://lms.example.org"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cli("saml", "register", "--id", "lms", "--name", "Learning Portal", "--metadata-file", md)
	wait := func(what string, ok func(int) bool) {
		t.Helper()
		start := time.Now()
		for st := status(); !ok(st); st = status() {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s: B still answers %d", what, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: %s after the CLI returned", what, time.Since(start).Round(time.Millisecond))
	}
	// Known: the sign-in goes on (to the login page); never the "not registered" page.
	wait("B serves the registered SP", func(st int) bool { return st != http.StatusNotFound && st != http.StatusTooManyRequests })
	e.cli("saml", "remove", "lms")
	wait("B forgets the removed SP", func(st int) bool { return st == http.StatusNotFound })
}

// spMetadata is a real SP's metadata (crewjam/saml's ServiceProvider) at base.
func spMetadata(t *testing.T, base string) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	u, _ := url.Parse(base)
	sp := crewjam.ServiceProvider{Key: key, Certificate: cert, MetadataURL: *u.JoinPath("saml/metadata"),
		AcsURL: *u.JoinPath("saml/acs"), SloURL: *u.JoinPath("saml/slo")}
	b, err := xml.Marshal(sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
