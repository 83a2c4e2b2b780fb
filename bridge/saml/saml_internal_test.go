package saml

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// signsWith: the XML signer made with the key signs with its private key and certificate.
func signsWith(t *testing.T, k *signingKey) {
	t.Helper()
	if k.signer == nil {
		t.Fatalf("key %s has no signer", k.id)
	}
	if !k.private.PublicKey.Equal(k.cryptoSigner().Public()) {
		t.Fatalf("key %s: its signer signs with another key", k.id)
	}
	el := etree.NewElement("Probe")
	el.CreateAttr("ID", "_probe")
	signed, err := k.signer.SignEnveloped(el)
	if err != nil {
		t.Fatalf("key %s: %v", k.id, err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{k.cert}})
	vc.Clock = dsig.NewFakeClockAt(k.cert.NotBefore.Add(time.Second))
	if _, err := vc.Validate(signed); err != nil {
		t.Fatalf("key %s: its signer signs with another key or certificate (%v)", k.id, err)
	}
}

// TestKeyRingRotationOverlap: one key signs; its successor is made and published an overlap
// before it stops, signs from then, and the old certificate stays published an overlap after;
// the private keys are sealed at rest (another key-encryption key opens none).
func TestKeyRingRotationOverlap(t *testing.T) {
	st := openStore(t)
	kek := bytes.Repeat([]byte{7}, 32)
	now := time.Now()
	clock := func() time.Time { return now }
	cfg := config.SAMLConfig{KeyRotateEvery: 100 * 24 * time.Hour, KeyOverlap: 10 * 24 * time.Hour}
	ring, err := NewKeyRing(t.Context(), st, kek, cfg, "sso.example.org", quiet, clock)
	if err != nil {
		t.Fatal(err)
	}
	first, others, err := ring.Signing()
	if err != nil || len(others) != 0 {
		t.Fatalf("new ring: %v, %d other certificates", err, len(others))
	}
	signsWith(t, first) // made here (generate)
	step := func(d time.Duration) {
		t.Helper()
		now = now.Add(d)
		if _, err := ring.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	step(80 * 24 * time.Hour) // before the overlap: nothing new
	if k, others, _ := ring.Signing(); k.id != first.id || len(others) != 0 {
		t.Fatalf("day 80: signing %s with %d others", k.id, len(others))
	}
	step(11 * 24 * time.Hour) // day 91: the successor is published, the first key still signs
	k, others, _ := ring.Signing()
	if k.id != first.id || len(others) != 1 {
		t.Fatalf("day 91: signing %s with %d others", k.id, len(others))
	}
	next := others[0]
	step(10 * 24 * time.Hour) // day 101: the successor signs, the first is still published
	k, others, _ = ring.Signing()
	if !k.cert.Equal(next) || len(others) != 1 || !others[0].Equal(first.cert) {
		t.Fatalf("day 101: signing %s, others %d", k.id, len(others))
	}
	signsWith(t, k) // read back from the store (open)

	step(10 * 24 * time.Hour) // day 111: the first key is gone
	if _, others, _ = ring.Signing(); len(others) != 0 {
		t.Fatalf("day 111: %d other certificates", len(others))
	}

	stored, err := st.SAMLKeys(t.Context())
	if err != nil || len(stored) == 0 {
		t.Fatalf("stored keys: %v", err)
	}
	for _, sk := range stored {
		if bytes.Contains(sk.PrivateEnc, x509.MarshalPKCS1PrivateKey(first.private)[:64]) {
			t.Fatal("private key stored in the clear")
		}
	}
	if _, err := NewKeyRing(t.Context(), st, bytes.Repeat([]byte{8}, 32), cfg, "sso.example.org", quiet, clock); err == nil ||
		!strings.Contains(err.Error(), "keys.encryption_key") {
		t.Fatalf("another key-encryption key opened the keys: %v", err)
	}
}

// testIdP is a Handler over a real store with one SP ("lms", whose key signs its requests).
type testIdP struct {
	h      *Handler
	spKey  *rsa.PrivateKey
	spCert *x509.Certificate
	sp     *crewjam.ServiceProvider
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	st := openStore(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	cfg := config.SAMLConfig{ServiceProviders: []config.SAMLServiceProvider{{ID: "lms", EntityID: "https://lms.example.org/saml/metadata",
		ACSURLs: []string{"https://lms.example.org/saml/acs", "https://lms.example.org/other/acs"}, SLOURL: "https://lms.example.org/saml/slo",
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), AuthnRequestsSigned: true}}}
	reg, err := NewRegistry(cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := NewKeyRing(t.Context(), st, bytes.Repeat([]byte{1}, 32), cfg, "sso.example.org", quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{Store: st, Registry: reg, Keys: ring, Issuer: "https://sso.example.org", Logger: quiet, Now: time.Now}
	u := func(s string) url.URL { p, _ := url.Parse(s); return *p }
	sp := &crewjam.ServiceProvider{EntityID: "https://lms.example.org/saml/metadata", Key: key, Certificate: cert,
		MetadataURL: u("https://lms.example.org/saml/metadata"), AcsURL: u("https://lms.example.org/saml/acs"),
		SloURL: u("https://lms.example.org/saml/slo"), SignatureMethod: dsig.RSASHA256SignatureMethod}
	return &testIdP{h: h, spKey: key, spCert: cert, sp: sp}
}

// TestMetadataPublishesOverlap: during the overlap both certificates are in the signed metadata.
func TestMetadataPublishesOverlap(t *testing.T) {
	ti := newTestIdP(t)
	count := func() int {
		idp, err := ti.h.idp(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, kd := range idp.Metadata().IDPSSODescriptors[0].KeyDescriptors {
			if kd.Use == "signing" {
				n++
			}
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("signing certificates before the overlap: %d", n)
	}
	later := time.Now().Add(config.DefaultSAMLKeyRotateEvery - time.Hour)
	ti.h.Keys.now = func() time.Time { return later }
	if _, err := ti.h.Keys.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("signing certificates during the overlap: %d", n)
	}
}

// signedAuthnRequest is an AuthnRequest the SP signed (enveloped signature), as XML.
func (ti *testIdP) signedAuthnRequest(t *testing.T) []byte {
	t.Helper()
	req, err := ti.sp.MakeAuthenticationRequest(ti.h.Issuer+PathSSO, crewjam.HTTPPostBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	if req.Signature == nil {
		if err := ti.sp.SignAuthnRequest(req); err != nil {
			t.Fatal(err)
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (ti *testIdP) signedLogoutRequest(t *testing.T, nameID string) []byte {
	t.Helper()
	idp, err := ti.h.idp(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ti.sp.IDPMetadata = idp.Metadata()
	req, err := ti.sp.MakeLogoutRequest(ti.h.Issuer+PathSLO, nameID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Signature == nil {
		if err := ti.sp.SignLogoutRequest(req); err != nil {
			t.Fatal(err)
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func postRequest(path string, xmlDoc []byte) *http.Request {
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xmlDoc)}}
	r := httptest.NewRequest(http.MethodPost, "https://sso.example.org"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// wrappings are the known XML signature wrapping variants (XSW) against a message signed at its
// root: each moves the signed original somewhere the verifier may find it while the root
// (what a careless parser reads) carries the attacker's content. attack changes the copy.
func wrappings(attack func(root *etree.Element)) map[string]func(signed *etree.Element) *etree.Element {
	clone := func(e *etree.Element) *etree.Element { return e.Copy() }
	sigOf := func(e *etree.Element) *etree.Element { return e.FindElement("./Signature") }
	return map[string]func(*etree.Element) *etree.Element{
		// The signed content changed in place, signature kept.
		"modified": func(signed *etree.Element) *etree.Element {
			root := clone(signed)
			attack(root)
			return root
		},
		// Signature removed: an unsigned message from an SP that signs.
		"unsigned": func(signed *etree.Element) *etree.Element {
			root := clone(signed)
			root.RemoveChild(sigOf(root))
			attack(root)
			return root
		},
		// XSW1: a new root (same ID) with the attacker's content and the signature; the signed
		// original inside the signature (ds:Object).
		"xsw1": func(signed *etree.Element) *etree.Element {
			root := clone(signed)
			orig := clone(signed)
			orig.RemoveChild(sigOf(orig))
			attack(root)
			sig := sigOf(root)
			obj := sig.CreateElement("ds:Object")
			obj.AddChild(orig)
			return root
		},
		// XSW2: the signed original (with its signature) as the first child of an attacker root
		// with the same ID.
		"xsw2": func(signed *etree.Element) *etree.Element {
			root := clone(signed)
			root.RemoveChild(sigOf(root))
			attack(root)
			root.InsertChildAt(0, clone(signed))
			return root
		},
		// XSW3: the attacker root keeps the signature; the original (unsigned) sits in an
		// Extensions element with the same ID.
		"xsw3": func(signed *etree.Element) *etree.Element {
			root := clone(signed)
			orig := clone(signed)
			orig.RemoveChild(sigOf(orig))
			attack(root)
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(orig)
			root.InsertChildAt(1, ext)
			return root
		},
		// XSW4: the attacker root gets a new ID; the signature stays pointing at the original ID,
		// whose element is appended after it.
		"xsw4": func(signed *etree.Element) *etree.Element {
			root := clone(signed)
			orig := clone(signed)
			orig.RemoveChild(sigOf(orig))
			attack(root)
			root.CreateAttr("ID", "id-attacker")
			root.AddChild(orig)
			return root
		},
	}
}

func toBytes(t *testing.T, e *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(e)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuthnRequestSignatureWrapping: each XSW variant that tries to send the response to
// another of the SP's assertion consumer services is refused (or, if accepted, what the IdP
// acts on is the signed original).
func TestAuthnRequestSignatureWrapping(t *testing.T) {
	ti := newTestIdP(t)
	signed := ti.signedAuthnRequest(t)
	idp, err := ti.h.idp(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The genuine request passes.
	req, err := crewjam.NewIdpAuthnRequest(idp, postRequest(PathSSO, signed))
	if err == nil {
		err = req.Validate()
	}
	if err != nil {
		t.Fatalf("genuine signed request refused: %v", err)
	}
	const evil = "https://lms.example.org/other/acs"
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(signed); err != nil {
		t.Fatal(err)
	}
	for name, wrap := range wrappings(func(root *etree.Element) { root.CreateAttr("AssertionConsumerServiceURL", evil) }) {
		t.Run(name, func(t *testing.T) {
			msg := toBytes(t, wrap(doc.Root().Copy()))
			req, err := crewjam.NewIdpAuthnRequest(idp, postRequest(PathSSO, msg))
			if err == nil {
				err = req.Validate()
			}
			if err == nil && req.ACSEndpoint.Location == evil {
				t.Fatalf("wrapped request accepted and answered at %s", evil)
			}
		})
	}
}

// TestLogoutRequestSignatureWrapping: each XSW variant that names another member in a signed
// LogoutRequest is refused (or, if accepted, names the signed original's member).
func TestLogoutRequestSignatureWrapping(t *testing.T) {
	ti := newTestIdP(t)
	signed := ti.signedLogoutRequest(t, "member-a")
	idp, err := ti.h.idp(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lreq, err := ti.h.newLogoutRequest(t.Context(), idp, postRequest(PathSLO, signed))
	if err == nil {
		err = lreq.Validate()
	}
	if err != nil || lreq.Request.NameID.Value != "member-a" {
		t.Fatalf("genuine signed logout request: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(signed); err != nil {
		t.Fatal(err)
	}
	// The variants keep the signed request's ID: without the replay cache (tested on its own),
	// only the signature checks stand between them and the session.
	noReplay := *idp
	noReplay.ReplayCache = nil
	for name, wrap := range wrappings(func(root *etree.Element) { root.FindElement("./NameID").SetText("member-b") }) {
		t.Run(name, func(t *testing.T) {
			msg := toBytes(t, wrap(doc.Root().Copy()))
			lreq, err := crewjam.NewIdpLogoutRequest(&noReplay, postRequest(PathSLO, msg))
			if err == nil {
				err = lreq.Validate()
			}
			if err == nil && lreq.Request.NameID != nil && lreq.Request.NameID.Value == "member-b" {
				t.Fatalf("wrapped logout request accepted for member-b")
			}
		})
	}
	// The genuine request again: the replay cache refuses it.
	lreq, err = ti.h.newLogoutRequest(t.Context(), idp, postRequest(PathSLO, signed))
	if err == nil {
		err = lreq.Validate()
	}
	if err == nil {
		t.Fatal("replayed logout request accepted")
	}
}

// FuzzFromMetadata: any metadata document read at registration is refused or accepted without
// a panic, and an accepted one has an entity id and an HTTP-POST assertion consumer service.
func FuzzFromMetadata(f *testing.F) {
	f.Add([]byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/></SPSSODescriptor></EntityDescriptor>`))
	f.Add([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"></EntitiesDescriptor>`))
	f.Add([]byte(`not xml`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := FromMetadata(config.SAMLServiceProvider{ID: "x"}, b, time.Now())
		if err != nil {
			return
		}
		if sp.EntityID == "" || len(sp.Metadata.SPSSODescriptors) == 0 {
			t.Fatalf("accepted metadata without entity id or SP descriptor: %q", b)
		}
	})
}
