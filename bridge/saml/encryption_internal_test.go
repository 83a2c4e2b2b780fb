package saml

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
)

// TestAssertionCipher: assertions are encrypted with AES-GCM whenever the SP's encryption key
// lists a GCM method or lists no block cipher (the strongest GCM it lists, else AES-256-GCM),
// and with CBC only when every block cipher it lists is CBC (saml-metadata-2.0-os 2.4.1.1);
// the library alone would send AES-128-CBC to an SP that lists nothing.
func TestAssertionCipher(t *testing.T) {
	const (
		gcm128 = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
		gcm256 = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
		cbc128 = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
		cbc256 = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
		oaep   = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	)
	for _, c := range []struct {
		name    string
		use     string
		methods []string
		want    xmlenc.BlockCipher
	}{
		{"none listed", "encryption", nil, xmlenc.AES256GCM},
		{"key transport only", "encryption", []string{oaep}, xmlenc.AES256GCM},
		{"use unset, none listed", "", nil, xmlenc.AES256GCM},
		{"GCM 128 only", "encryption", []string{oaep, gcm128}, xmlenc.AES128GCM},
		{"CBC and GCM", "encryption", []string{cbc128, gcm128, cbc256}, xmlenc.AES128GCM},
		{"both GCM", "encryption", []string{gcm128, gcm256}, xmlenc.AES256GCM},
		{"CBC 128 only", "encryption", []string{oaep, cbc128}, xmlenc.AES128CBC},
		{"CBC 128 and 256", "encryption", []string{cbc128, cbc256}, xmlenc.AES256CBC},
		{"3DES only", "encryption", []string{"http://www.w3.org/2001/04/xmlenc#tripledes-cbc"}, xmlenc.AES128CBC},
		{"methods of a signing key do not count", "signing", []string{cbc128}, xmlenc.AES256GCM},
	} {
		var ms []crewjam.EncryptionMethod
		for _, m := range c.methods {
			ms = append(ms, crewjam.EncryptionMethod{Algorithm: m})
		}
		d := &crewjam.SPSSODescriptor{SSODescriptor: crewjam.SSODescriptor{RoleDescriptor: crewjam.RoleDescriptor{
			KeyDescriptors: []crewjam.KeyDescriptor{{Use: c.use, EncryptionMethods: ms, KeyInfo: certInfo("MIIB")}}}}}
		_, got := assertionEncrypter(d)
		if got.Algorithm() != c.want.Algorithm() {
			t.Errorf("%s: %s, want %s", c.name, got.Algorithm(), c.want.Algorithm())
		}
	}
	if n := cipherName(xmlenc.AES256GCM); n != "aes256-gcm" {
		t.Errorf("cipherName = %q", n)
	}
}

func certInfo(data string) crewjam.KeyInfo {
	return crewjam.KeyInfo{X509Data: crewjam.X509Data{X509Certificates: []crewjam.X509Certificate{{Data: data}}}}
}

// TestAssertionCipherFollowsTheKeyEncryptedTo (review s14 RV2-2): the method is chosen from the
// EncryptionMethods of the key the library encrypts the assertion to (the first use="encryption"
// key with a certificate, else the first without use), not from every key of the SP. An SP whose
// first encryption key lists only CBC and whose second lists GCM gets CBC under the first key
// (not GCM, which that key's holder says it cannot take), and the other way round; a key
// without a certificate is passed over as the library passes it over.
func TestAssertionCipherFollowsTheKeyEncryptedTo(t *testing.T) {
	const (
		gcm256 = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
		cbc128 = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
	)
	idpSigner, a, b := newTestSigner(t, "idp"), newTestSigner(t, "a"), newTestSigner(t, "b")
	key := func(use string, s *testSigner, method string) crewjam.KeyDescriptor {
		k := crewjam.KeyDescriptor{Use: use, EncryptionMethods: []crewjam.EncryptionMethod{{Algorithm: method}}}
		if s != nil {
			k.KeyInfo = certInfo(base64.StdEncoding.EncodeToString(s.cert.Raw))
		}
		return k
	}
	for _, c := range []struct {
		name   string
		keys   []crewjam.KeyDescriptor
		to     *testSigner
		method string
	}{
		{"CBC-only key first", []crewjam.KeyDescriptor{key("encryption", a, cbc128), key("encryption", b, gcm256)}, a, cbc128},
		{"GCM key first", []crewjam.KeyDescriptor{key("encryption", a, gcm256), key("encryption", b, cbc128)}, a, gcm256},
		{"use unset comes after use=encryption", []crewjam.KeyDescriptor{key("", a, gcm256), key("encryption", b, cbc128)}, b, cbc128},
		{"key without a certificate passed over", []crewjam.KeyDescriptor{key("encryption", nil, gcm256), key("encryption", b, cbc128)}, b, cbc128},
		{"signing key's methods do not count", []crewjam.KeyDescriptor{key("signing", a, cbc128), key("encryption", b, gcm256)}, b, gcm256},
	} {
		t.Run(c.name, func(t *testing.T) {
			acs := crewjam.IndexedEndpoint{Binding: crewjam.HTTPPostBinding, Location: "https://sp.example.org/acs", Index: 1}
			d := crewjam.SPSSODescriptor{SSODescriptor: crewjam.SSODescriptor{RoleDescriptor: crewjam.RoleDescriptor{KeyDescriptors: c.keys}},
				AssertionConsumerServices: []crewjam.IndexedEndpoint{acs}}
			md := &crewjam.EntityDescriptor{EntityID: "https://sp.example.org", SPSSODescriptors: []crewjam.SPSSODescriptor{d}}
			u, _ := url.Parse("https://sso.example.org/saml/metadata")
			idp := &crewjam.IdentityProvider{Key: idpSigner.key, Certificate: idpSigner.cert, MetadataURL: *u, SSOURL: *u}
			idp.AssertionEncrypter, _ = assertionEncrypter(&md.SPSSODescriptors[0])
			req := &crewjam.IdpAuthnRequest{IDP: idp, HTTPRequest: httptest.NewRequest(http.MethodPost, "/saml/sso", nil), Now: time.Now(), ServiceProviderMetadata: md,
				SPSSODescriptor: &md.SPSSODescriptors[0], ACSEndpoint: &acs}
			req.Request.ID = "id-1"
			if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, &crewjam.Session{ID: "s", NameID: "alice"}); err != nil {
				t.Fatal(err)
			}
			if err := req.MakeAssertionEl(); err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			doc.SetRoot(req.AssertionEl)
			data := doc.FindElement("//EncryptedData/EncryptionMethod")
			cert := doc.FindElement("//EncryptedKey//X509Certificate")
			if data == nil || cert == nil {
				s, _ := doc.WriteToString()
				t.Fatalf("no encrypted assertion: %.800s", s)
			}
			if got := data.SelectAttrValue("Algorithm", ""); got != c.method {
				t.Errorf("encrypted with %s, want %s", got, c.method)
			}
			if got := strings.Join(strings.Fields(cert.Text()), ""); got != base64.StdEncoding.EncodeToString(c.to.cert.Raw) {
				t.Errorf("encrypted to another key than %s", c.to.cert.Subject.CommonName)
			}
		})
	}
}
