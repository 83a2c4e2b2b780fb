package saml

import (
	"testing"

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
		sp := &SP{Metadata: &crewjam.EntityDescriptor{SPSSODescriptors: []crewjam.SPSSODescriptor{{
			SSODescriptor: crewjam.SSODescriptor{RoleDescriptor: crewjam.RoleDescriptor{
				KeyDescriptors: []crewjam.KeyDescriptor{{Use: c.use, EncryptionMethods: ms}}}}}}}}
		_, got := assertionEncrypter(sp)
		if got.Algorithm() != c.want.Algorithm() {
			t.Errorf("%s: %s, want %s", c.name, got.Algorithm(), c.want.Algorithm())
		}
	}
	if n := cipherName(xmlenc.AES256GCM); n != "aes256-gcm" {
		t.Errorf("cipherName = %q", n)
	}
}
