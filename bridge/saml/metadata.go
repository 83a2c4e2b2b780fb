package saml

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// signedMetadata is the IdP's metadata (the library's idp.Metadata) with its certificates
// published for signing only, signed as the library's SignedMetadata signs it: an enveloped
// signature by the IdP's key (signer: the signing key's, RSA-SHA256 as idp's SignatureMethod),
// exclusive canonicalization, and ds:Signature the first child of EntityDescriptor
// (saml-metadata-2.0-os 3.1).
//
// The library publishes the signing certificate a second time with use="encryption" and a list
// of EncryptionMethods. That tells every SP to encrypt what it sends the IdP (an EncryptedID in
// a LogoutRequest, saml-metadata-2.0-os 2.4.1.1: a key "for encryption") to the key the IdP
// signs with: one RSA key for signatures and decryption, which key separation rules out (NIST
// SP 800-57 part 1, 5.2), and a key a rotation replaces without a decryption overlap. Nothing
// the bridge receives needs to be encrypted: requests are signed, and the NameIDs in them are
// the pairwise or e-mail identifiers the bridge gave that SP. Assertion encryption is the
// other way round (to the SP's key, from its metadata: newSP keeps it only for SPs with
// encrypt_assertions). An SP that still encrypts a NameID to the key from older metadata is
// still read: the library decrypts an EncryptedID with the IdP's key.
func signedMetadata(idp *crewjam.IdentityProvider, signer *dsig.SigningContext) (*etree.Element, error) {
	md := idp.Metadata()
	for i := range md.IDPSSODescriptors {
		d := &md.IDPSSODescriptors[i]
		keys := d.KeyDescriptors[:0]
		for _, k := range d.KeyDescriptors {
			if k.Use == "signing" {
				keys = append(keys, k)
			}
		}
		d.KeyDescriptors = keys
	}
	id := make([]byte, 20)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	md.ID = "id-" + hex.EncodeToString(id)
	raw, err := xml.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	el := doc.Root()
	sig, err := signer.ConstructSignature(el, true)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	el.InsertChildAt(0, sig)
	return el, nil
}
