package saml

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/samlsp"
	"github.com/labstack/echo/v4"
	dsig "github.com/russellhaering/goxmldsig"
)

// TestMetadataKeysAreForSigning: the IdP's published metadata gives its certificates for
// signing only (KeyDescriptor use="signing", saml-metadata-2.0-os 2.4.1.1; a KeyDescriptor
// without use is for both) and no EncryptionMethod: nothing the bridge receives is to be
// encrypted to it, and the key it signs with is not offered for encryption. The metadata is
// still signed by the IdP's key (enveloped, ds:Signature the first child) and reads as IdP
// metadata.
func TestMetadataKeysAreForSigning(t *testing.T) {
	ti := newTestIdP(t)
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "https://sso.example.org"+PathMetadata, nil), rec)
	if err := ti.h.metadata(c); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("metadata: %d %v", rec.Code, err)
	}
	body := rec.Body.Bytes()

	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		t.Fatal(err)
	}
	kds := doc.FindElements("//KeyDescriptor")
	if len(kds) == 0 {
		t.Fatalf("no KeyDescriptor in %s", body)
	}
	var signing []string
	for _, kd := range kds {
		if use := kd.SelectAttrValue("use", ""); use != "signing" {
			t.Errorf("KeyDescriptor use=%q, want signing only", use)
		}
		if em := kd.FindElements(".//EncryptionMethod"); len(em) != 0 {
			t.Errorf("KeyDescriptor with %d EncryptionMethod", len(em))
		}
		for _, c := range kd.FindElements(".//X509Certificate") {
			signing = append(signing, c.Text())
		}
	}
	key, _, err := ti.h.Keys.Signing()
	if err != nil {
		t.Fatal(err)
	}
	if len(signing) != 1 || signing[0] != base64.StdEncoding.EncodeToString(key.cert.Raw) {
		t.Fatalf("signing certificates %d, want the IdP's one", len(signing))
	}

	root := doc.Root()
	if first := root.ChildElements(); len(first) == 0 || first[0].Tag != "Signature" {
		t.Fatal("ds:Signature is not the first child of EntityDescriptor")
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{key.cert}})
	if _, err := vc.Validate(root); err != nil {
		t.Fatalf("metadata signature: %v", err)
	}
	checkSignatureMethods(t, root)
	md, err := samlsp.ParseMetadata(body)
	if err != nil || len(md.IDPSSODescriptors) != 1 || md.EntityID != ti.h.EntityID() {
		t.Fatalf("metadata does not read as the IdP's: %v", err)
	}
}
