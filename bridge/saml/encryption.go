package saml

import (
	"strings"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
)

// Assertion encryption's block cipher, per SP.
//
// XML Encryption's CBC modes have no integrity protection, and an SP that tells whether a
// decryption failed (an error page, a timing) is a padding oracle that reveals the plaintext
// (Jager and Somorovsky, "How To Break XML Encryption", CCS 2011); XML Encryption 1.1 added
// AES-GCM for that reason. The library's default encrypts with AES-128-CBC unless the SP's
// metadata lists a GCM method. The bridge prefers AES-GCM: the strongest GCM method listed for
// the SP's encryption key that the library encrypts to (encryptionKeyMethods;
// saml-metadata-2.0-os 2.4.1.1: the EncryptionMethods of a KeyDescriptor are the algorithms the
// entity supports for that key), or AES-256-GCM when that key lists no block cipher at all; CBC
// only when every block cipher it lists is CBC (the SP says it cannot take GCM with that key).
// mod_auth_mellon (Lasso and xmlsec, whose generated metadata lists no methods) decrypts
// AES-256-GCM: the e2e/samlsp suite signs in with encrypted assertions.
// The key transport stays RSA-OAEP-MGF1P with SHA-1, which every implementation supports.

// gcmCiphers and cbcCiphers are the block ciphers chosen from, strongest first (the order of
// the library's own preference).
var (
	gcmCiphers = []xmlenc.BlockCipher{xmlenc.AES256GCM, xmlenc.AES128GCM, xmlenc.AES192GCM}
	cbcCiphers = []xmlenc.BlockCipher{xmlenc.AES256CBC, xmlenc.AES128CBC, xmlenc.AES192CBC}
)

// tripleDESCBC is XML Encryption's 3DES (CBC): a CBC method too, which the bridge does not use.
const tripleDESCBC = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"

// encryptionKeyMethods are the EncryptionMethods listed for the key the library encrypts an
// assertion to, in the SPSSODescriptor d the response goes to (the one holding the chosen
// assertion consumer service): the first KeyDescriptor with use="encryption" that holds a
// certificate, else the first with no use (crewjam's encryptionKey, which getSPEncryptionCert
// calls; the library does not export it). The methods listed for the SP's other keys say
// nothing about this one (saml-metadata-2.0-os 2.4.1.1: they are per key), so they do not count.
func encryptionKeyMethods(d *crewjam.SPSSODescriptor) []crewjam.EncryptionMethod {
	if d == nil {
		return nil
	}
	for _, use := range []string{"encryption", ""} {
		for _, k := range d.KeyDescriptors {
			if k.Use != use {
				continue
			}
			for _, c := range k.KeyInfo.X509Data.X509Certificates {
				if strings.Join(strings.Fields(c.Data), "") != "" {
					return k.EncryptionMethods
				}
			}
		}
	}
	return nil
}

// assertionCipher is the block cipher the bridge encrypts an assertion with, from the methods
// listed for the key it is encrypted to (encryptionKeyMethods).
func assertionCipher(methods []crewjam.EncryptionMethod) xmlenc.BlockCipher {
	listed := map[string]bool{}
	for _, m := range methods {
		listed[m.Algorithm] = true
	}
	for _, c := range gcmCiphers {
		if listed[c.Algorithm()] {
			return c
		}
	}
	for _, c := range cbcCiphers {
		if listed[c.Algorithm()] {
			return c
		}
	}
	if listed[tripleDESCBC] {
		// Only 3DES among the ciphers it names: AES-128-CBC, as the library has always sent
		// such SPs (3DES is not offered).
		return xmlenc.AES128CBC
	}
	return xmlenc.AES256GCM // no block cipher listed (or none the bridge knows): GCM
}

// assertionEncrypter is what encrypts an assertion sent to the SPSSODescriptor d (the
// request's, the library's IdpAuthnRequest.SPSSODescriptor; the library's IdentityProvider
// AssertionEncrypter, set per response): RSA-OAEP-MGF1P with SHA-1 and the assertionCipher of
// the key the library encrypts to.
func assertionEncrypter(d *crewjam.SPSSODescriptor) (xmlenc.Encrypter, xmlenc.BlockCipher) {
	c := assertionCipher(encryptionKeyMethods(d))
	enc := xmlenc.OAEP()
	enc.DigestMethod = &xmlenc.SHA1
	enc.BlockCipher = c
	return enc, c
}

// cipherName is the short name of a block cipher for the audit log (aes256-gcm, aes128-cbc ...):
// the fragment of its XML Encryption algorithm URI.
func cipherName(c xmlenc.BlockCipher) string {
	a := c.Algorithm()
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == '#' {
			return a[i+1:]
		}
	}
	return a
}
