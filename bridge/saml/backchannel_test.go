package saml

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
)

func soapAnswer(inner string) []byte {
	return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + inner + `</soap:Body></soap:Envelope>`)
}

const (
	testSPEntity  = "https://sp.example.org/saml/metadata"
	testIdPEntity = "https://sso.example.org/saml/metadata"
	testIdPSLO    = "https://sso.example.org/saml/slo"
)

type testSigner struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newTestSigner(t testing.TB, cn string) *testSigner {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)} // expired: the registered key counts
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{key, cert}
}

// testSP is an SP registered with the certificates of signers.
func testSP(signers ...*testSigner) *SP {
	desc := crewjam.SPSSODescriptor{}
	for _, s := range signers {
		desc.KeyDescriptors = append(desc.KeyDescriptors, crewjam.KeyDescriptor{Use: "signing", KeyInfo: crewjam.KeyInfo{
			X509Data: crewjam.X509Data{X509Certificates: []crewjam.X509Certificate{{Data: base64.StdEncoding.EncodeToString(s.cert.Raw)}}}}})
	}
	return &SP{Settings: config.SAMLServiceProvider{ID: "sp"}, EntityID: testSPEntity,
		Metadata: &crewjam.EntityDescriptor{EntityID: testSPEntity, SPSSODescriptors: []crewjam.SPSSODescriptor{desc}}}
}

// answer is the SOAP envelope of a LogoutResponse to id-1 with status, changed by mod, signed by
// s (nil: unsigned) with method, and then changed by after (what an attacker would do).
func answer(t testing.TB, s *testSigner, method, status string, mod func(*crewjam.LogoutResponse), after func(*etree.Element)) []byte {
	t.Helper()
	resp := &crewjam.LogoutResponse{ID: "id-r", InResponseTo: "id-1", Version: "2.0", IssueInstant: time.Now().UTC(),
		Issuer: &crewjam.Issuer{Value: testSPEntity}, Status: crewjam.Status{StatusCode: crewjam.StatusCode{Value: status}}}
	if mod != nil {
		mod(resp)
	}
	el := resp.Element()
	if s != nil {
		sc := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{s.cert.Raw}, PrivateKey: s.key}))
		sc.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
		if err := sc.SetSignatureMethod(method); err != nil {
			t.Fatal(err)
		}
		var err error
		if el, err = sc.SignEnveloped(el); err != nil {
			t.Fatal(err)
		}
		// Read back, as the SP would send it (the signer's tree is not fit to edit).
		d := etree.NewDocument()
		d.SetRoot(el)
		raw, err := d.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		back := etree.NewDocument()
		if err := back.ReadFromBytes(raw); err != nil {
			t.Fatal(err)
		}
		el = back.Root()
	}
	if after != nil {
		after(el)
	}
	doc := etree.NewDocument()
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", soapEnvelopeNS)
	env.CreateElement("soap:Body").AddChild(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheckLogoutResponse: how an SP's answer to a back-channel LogoutRequest settles its
// delivery: only a LogoutResponse to that request, from that SP (signed with a registered key
// when signed, or when signatures are required), for this IdP, recent, with the status Success
// delivers it; Requester is final; every other answer is retried.
func TestCheckLogoutResponse(t *testing.T) {
	const ok, retry, final = "delivered", "retry", "final"
	sp1, sp2, other := newTestSigner(t, "sp key 1"), newTestSigner(t, "sp key 2"), newTestSigner(t, "someone else")
	sp := testSP(sp1, sp2) // two registered keys (a rollover)
	const sha256, sha1 = dsig.RSASHA256SignatureMethod, dsig.RSASHA1SignatureMethod
	success, requester := crewjam.StatusSuccess, crewjam.StatusRequester
	setStatus := func(v string) func(*etree.Element) {
		return func(el *etree.Element) { el.FindElement("./Status/StatusCode").CreateAttr("Value", v) }
	}
	for _, c := range []struct {
		name       string
		body       []byte
		wantSigned bool
		want       string
	}{
		{"signed, success", answer(t, sp1, sha256, success, nil, nil), false, ok},
		{"signed with the second registered key", answer(t, sp2, sha256, success, nil, nil), true, ok},
		{"signed, signature required", answer(t, sp1, sha256, success, nil, nil), true, ok},
		{"unsigned, allowed", answer(t, nil, "", success, nil, nil), false, ok},
		{"unsigned, signature required", answer(t, nil, "", success, nil, nil), true, retry},
		{"signed by another key", answer(t, other, sha256, success, nil, nil), false, retry},
		{"signed Requester changed to Success", answer(t, sp1, sha256, requester, nil, setStatus(success)), false, retry},
		{"signature stripped of a signed answer, then changed", answer(t, sp1, sha256, requester, nil, func(el *etree.Element) {
			el.RemoveChild(el.FindElement("./Signature"))
			setStatus(success)(el)
		}), true, retry},
		{"SHA-1 signature", answer(t, sp1, sha1, success, nil, nil), false, retry},
		{"signature references another element", answer(t, sp1, sha256, success, nil, func(el *etree.Element) {
			el.FindElement("./Signature/SignedInfo/Reference").CreateAttr("URI", "#elsewhere")
		}), false, retry},
		{"signed answer wrapped in an unsigned one", func() []byte {
			signed := answer(t, sp1, sha256, requester, nil, nil)
			return answer(t, nil, "", success, nil, func(el *etree.Element) {
				d := etree.NewDocument()
				_ = d.ReadFromBytes(signed)
				ext := el.CreateElement("samlp:Extensions")
				ext.AddChild(d.FindElement("//LogoutResponse"))
			})
		}(), false, retry},
		{"another request", answer(t, sp1, sha256, success, func(r *crewjam.LogoutResponse) { r.InResponseTo = "id-2" }, nil), false, retry},
		{"no InResponseTo", answer(t, sp1, sha256, success, func(r *crewjam.LogoutResponse) { r.InResponseTo = "" }, nil), false, retry},
		{"another issuer", answer(t, sp1, sha256, success, func(r *crewjam.LogoutResponse) { r.Issuer.Value = "https://evil.example/md" }, nil), false, retry},
		{"no issuer", answer(t, nil, "", success, func(r *crewjam.LogoutResponse) { r.Issuer = nil }, nil), false, retry},
		{"destination: this IdP", answer(t, sp1, sha256, success, func(r *crewjam.LogoutResponse) { r.Destination = testIdPSLO }, nil), false, ok},
		{"destination: this IdP's entity id", answer(t, sp1, sha256, success, func(r *crewjam.LogoutResponse) { r.Destination = testIdPEntity }, nil), false, ok},
		{"destination: another IdP", answer(t, sp1, sha256, success, func(r *crewjam.LogoutResponse) { r.Destination = "https://idp.example/slo" }, nil), false, retry},
		{"issued long ago", answer(t, sp1, sha256, success, func(r *crewjam.LogoutResponse) { r.IssueInstant = time.Now().Add(-time.Hour) }, nil), false, retry},
		{"issued in the future", answer(t, sp1, sha256, success, func(r *crewjam.LogoutResponse) { r.IssueInstant = time.Now().Add(time.Hour) }, nil), false, retry},
		{"version 1.1", answer(t, sp1, sha256, success, func(r *crewjam.LogoutResponse) { r.Version = "1.1" }, nil), false, retry},
		{"requester", answer(t, sp1, sha256, requester, nil, nil), false, final},
		{"unsigned requester, signature required", answer(t, nil, "", requester, nil, nil), true, retry},
		{"responder", answer(t, sp1, sha256, crewjam.StatusResponder, nil, nil), false, retry},
		{"partial logout", answer(t, sp1, sha256, crewjam.StatusPartialLogout, nil, nil), false, retry},
		{"no status", answer(t, sp1, sha256, "", nil, nil), false, retry},
		{"fault", soapAnswer(`<soap:Fault><faultcode>soap:Server</faultcode><faultstring>busy</faultstring></soap:Fault>`), false, retry},
		{"two elements in the body", []byte(strings.Replace(string(answer(t, nil, "", success, nil, nil)), "</soap:Body>", "<x/></soap:Body>", 1)), false, retry},
		{"not xml", []byte("ok"), false, retry},
		{"empty", nil, false, retry},
		{"bare response", []byte(strings.TrimSuffix(strings.TrimPrefix(string(answer(t, nil, "", success, nil, nil)),
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`), `</soap:Body></soap:Envelope>`)), false, retry},
	} {
		err := checkLogoutResponse(c.body, sp, "id-1", c.wantSigned, time.Now(), testIdPEntity, testIdPSLO)
		got := ok
		if err != nil {
			got = retry
			if outbox.IsPermanent(err) {
				got = final
			}
		}
		if got != c.want {
			t.Errorf("%s: %s (%v), want %s", c.name, got, err, c.want)
		}
	}

	// A signed answer from an SP whose metadata has no signing certificate cannot be checked.
	if err := checkLogoutResponse(answer(t, sp1, sha256, success, nil, nil), testSP(), "id-1", false, time.Now(), testIdPEntity); err == nil {
		t.Error("a signed answer was accepted from an SP without a registered certificate")
	}
}

// FuzzCheckLogoutResponse: an SP's answer never panics the reader, and nothing but a Success
// from the SP is a delivery.
func FuzzCheckLogoutResponse(f *testing.F) {
	f.Add(soapAnswer(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="r" InResponseTo="id-1" Version="2.0"` +
		` IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">` + testSPEntity +
		`</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`))
	f.Add([]byte("<a><b/></a>"))
	s := newTestSigner(f, "sp")
	sp := testSP(s)
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := checkLogoutResponse(b, sp, "id-1", true, now, testIdPEntity); err == nil {
			t.Fatalf("an unsigned answer delivered: %q", b)
		}
		_ = checkLogoutResponse(b, sp, "id-1", false, now, testIdPEntity)
	})
}

// TestLogoutRequestSignatureAfterIssuer: the IdP's signed LogoutRequests (SOAP, and HTTP-POST
// in the browser chain) carry their signature right after the Issuer, where the schema has it
// (SAML core 3.2.1), and it verifies there. The signer appends it last, and mod_auth_mellon
// (Lasso) refuses such a request as invalid (e2e/samlsp TestMellon, IdP-initiated logout).
func TestLogoutRequestSignatureAfterIssuer(t *testing.T) {
	idp := newTestSigner(t, "idp")
	d := &BackChannelSender{Issuer: "https://sso.example.org", Now: time.Now}
	key := &signingKey{private: idp.key, cert: idp.cert, signer: newSigner(idp.key, idp.cert)}
	soap, _, err := d.request(key, testSP(), &sloPayload{SP: testSPEntity, NameID: "n-1",
		NameIDFormat: string(crewjam.PersistentNameIDFormat), SessionIndex: "s-1"})
	if err != nil {
		t.Fatal(err)
	}
	env := etree.NewDocument()
	if err := env.ReadFromBytes(soap); err != nil {
		t.Fatal(err)
	}
	fromSOAP := env.FindElement("./Envelope/Body/LogoutRequest")
	now := time.Now().UTC()
	post, err := (&Logouts{}).postValue(key, &crewjam.LogoutRequest{ID: "id-2", Version: "2.0", IssueInstant: now,
		Destination: "https://sp.example.org/slo", Issuer: &crewjam.Issuer{Value: testIdPEntity}, NameID: &crewjam.NameID{Value: "n-2"},
		SessionIndex: &crewjam.SessionIndex{Value: "s-2"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(post)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	for name, el := range map[string]*etree.Element{"SOAP": fromSOAP, "HTTP-POST": doc.Root()} {
		t.Run(name, func(t *testing.T) {
			if el == nil {
				t.Fatal("no LogoutRequest")
			}
			var order []string
			for _, c := range el.ChildElements() {
				order = append(order, c.Tag)
			}
			if got := strings.Join(order, " "); got != "Issuer Signature NameID SessionIndex" {
				t.Fatalf("children %s, want Issuer Signature NameID SessionIndex", got)
			}
			vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{idp.cert}})
			vc.Clock = dsig.NewFakeClockAt(idp.cert.NotBefore.Add(time.Hour)) // the test certificate has expired
			if _, err := vc.Validate(el); err != nil {
				t.Fatalf("the moved signature does not verify: %v", err)
			}
			checkSignatureMethods(t, el)
		})
	}
}

// checkSignatureMethods: the IdP's own enveloped signature on el (metadata, LogoutRequests) is
// RSA-SHA256 over exclusive C14N, SHA-256 digest, as newSigner makes them.
func checkSignatureMethods(t *testing.T, el *etree.Element) {
	t.Helper()
	for path, want := range map[string]string{
		"./Signature/SignedInfo/CanonicalizationMethod":    dsig.CanonicalXML10ExclusiveAlgorithmId.String(),
		"./Signature/SignedInfo/SignatureMethod":           dsig.RSASHA256SignatureMethod,
		"./Signature/SignedInfo/Reference/DigestMethod":    "http://www.w3.org/2001/04/xmlenc#sha256",
		"./Signature/SignedInfo/Reference/Transforms/*[2]": dsig.CanonicalXML10ExclusiveAlgorithmId.String(),
	} {
		m := el.FindElement(path)
		if m == nil {
			t.Errorf("no %s", path)
			continue
		}
		if got := m.SelectAttrValue("Algorithm", ""); got != want {
			t.Errorf("%s Algorithm=%q, want %q", path, got, want)
		}
	}
}

// spMetadataWithSOAP is an SP's metadata listing a SOAP single logout service at soap.
func spMetadataWithSOAP(t *testing.T, entityID, soap string) []byte {
	t.Helper()
	s := newTestSigner(t, "sp")
	md := crewjam.EntityDescriptor{EntityID: entityID, SPSSODescriptors: []crewjam.SPSSODescriptor{{
		SSODescriptor: crewjam.SSODescriptor{
			RoleDescriptor: crewjam.RoleDescriptor{ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
				KeyDescriptors: []crewjam.KeyDescriptor{{Use: "signing", KeyInfo: crewjam.KeyInfo{X509Data: crewjam.X509Data{
					X509Certificates: []crewjam.X509Certificate{{Data: base64.StdEncoding.EncodeToString(s.cert.Raw)}}}}}}},
			SingleLogoutServices: []crewjam.Endpoint{{Binding: crewjam.SOAPBinding, Location: soap}}},
		AssertionConsumerServices: []crewjam.IndexedEndpoint{{Binding: crewjam.HTTPPostBinding, Location: entityID + "/acs", Index: 1}}}}}
	b, err := xml.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSOAPSingleLogoutURLChecked: the bridge POSTs signed LogoutRequests to an SP's SOAP single
// logout service from inside the network, so it must be https on an outside address unless
// the SP is allowed otherwise (allow_insecure_soap_slo); loopback too (session 9). A
// registration from metadata is refused with the reason; an SP registered before the check is
// refused at delivery (a dead letter naming the reason), and nothing is sent.
func TestSOAPSingleLogoutURLChecked(t *testing.T) {
	st := openStore(t)
	reg, err := NewRegistry(config.SAMLConfig{}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		soap  string
		allow bool
		ok    bool
	}{
		{"https://sp.example.org/soap", false, true},
		{"http://sp.example.org/soap", false, false},
		{"https://10.0.0.7/soap", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"http://127.0.0.1:8080/soap", false, false},
		{"https://127.0.0.1:8443/soap", false, false},
		{"https://localhost:8443/soap", false, false},
		{"https://[::ffff:10.0.0.7]/soap", false, false},
		{"http://127.0.0.1:8080/soap", true, true},
		{"http://sp.example.org/soap", true, true},
		{"http://10.0.0.7/soap", true, true},
	} {
		entity := fmt.Sprintf("https://sp%d.example.org", i)
		_, err := reg.Register(t.Context(), config.SAMLServiceProvider{ID: fmt.Sprintf("sp%d", i), AllowInsecureSOAPSLO: tc.allow},
			spMetadataWithSOAP(t, entity, tc.soap), time.Now())
		if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "SOAP")) {
			t.Errorf("register with SOAP single logout at %s (allowed %v): %v, want ok %v", tc.soap, tc.allow, err, tc.ok)
		}
	}

	// Registered before the check: written to the store as an older version did.
	var hits atomic.Int32
	client := &http.Client{Transport: roundTrip(func(*http.Request) (*http.Response, error) {
		hits.Add(1)
		return nil, errors.New("no network in this test")
	})}
	old := "https://old.example.org"
	rec, err := Record(config.SAMLServiceProvider{ID: "old"}, spMetadataWithSOAP(t, old, "http://old.example.org/soap"), old, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if err := reg.Refresh(t.Context()); err != nil {
		t.Fatalf("a stored SP with a plain-http SOAP service must still load: %v", err)
	}
	ring, err := NewKeyRing(t.Context(), st, bytes.Repeat([]byte{1}, 32), config.SAMLConfig{}, "sso.example.org", quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &BackChannelSender{Registry: reg, Keys: ring, Issuer: "https://sso.example.org", HTTP: outbox.Senders{Public: outbox.NewSender(client, 5*time.Second), Internal: outbox.NewSender(client, 5*time.Second)}, Now: time.Now}
	payload, _ := json.Marshal(sloPayload{SP: old, NameID: "n", NameIDFormat: string(crewjam.PersistentNameIDFormat)})
	err = d.Deliver(t.Context(), &store.OutboxEvent{ID: "e1", Payload: payload})
	if !outbox.IsPermanent(err) || !strings.Contains(err.Error(), "http://old.example.org/soap") || !strings.Contains(err.Error(), "https") {
		t.Fatalf("delivery to a plain-http SOAP service: %v, want a permanent failure naming it", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("something was sent")
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
