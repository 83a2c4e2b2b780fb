package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestSAMLServiceProviderFields: an SP entered in the configuration file is checked at start-up,
// and each error names the offending field (saml.service_providers[i].<field>).
func TestSAMLServiceProviderFields(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	base := func() SAMLServiceProvider {
		return SAMLServiceProvider{ID: "lms", EntityID: "https://lms.example.org/saml/metadata", ACSURLs: []string{"https://lms.example.org/saml/acs"},
			SLOURL: "https://lms.example.org/saml/slo", SOAPSLOURL: "https://lms.example.org/saml/soap-slo", Certificate: certPEM}
	}
	for _, c := range []struct {
		name string
		mod  func(*SAMLServiceProvider)
		want string // "" valid
	}{
		{"valid", func(*SAMLServiceProvider) {}, ""},
		{"no single logout service", func(sp *SAMLServiceProvider) { sp.SLOURL, sp.SOAPSLOURL = "", "" }, ""},
		{"SOAP only", func(sp *SAMLServiceProvider) { sp.SLOURL = "" }, ""},
		{"logout responses signed", func(sp *SAMLServiceProvider) { sp.LogoutResponsesSigned = true }, ""},
		// encryption_method (an SP that cannot decrypt AES-GCM asks for CBC): one of four, and
		// only when assertions are encrypted.
		{"encrypted with CBC", func(sp *SAMLServiceProvider) { sp.EncryptAssertions, sp.EncryptionMethod = true, "aes128-cbc" }, ""},
		{"encrypted with GCM named", func(sp *SAMLServiceProvider) { sp.EncryptAssertions, sp.EncryptionMethod = true, "aes256-gcm" }, ""},
		{"unknown encryption method", func(sp *SAMLServiceProvider) { sp.EncryptAssertions, sp.EncryptionMethod = true, "tripledes-cbc" },
			"saml.service_providers[0].encryption_method"},
		{"encryption method as a URI", func(sp *SAMLServiceProvider) {
			sp.EncryptAssertions, sp.EncryptionMethod = true, "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
		}, "saml.service_providers[0].encryption_method"},
		{"encryption method without encryption", func(sp *SAMLServiceProvider) { sp.EncryptionMethod = "aes128-cbc" },
			"saml.service_providers[0].encryption_method"},
		{"relative SOAP URL", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "/saml/soap-slo" }, "saml.service_providers[0].soap_slo_url"},
		{"SOAP URL not http", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "ftp://lms.example.org/slo" }, "saml.service_providers[0].soap_slo_url"},
		{"SOAP URL with a fragment", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "https://lms.example.org/slo#x" }, "saml.service_providers[0].soap_slo_url"},
		// The bridge POSTs signed LogoutRequests to the SOAP service from inside the network:
		// https to an outside address, unless the SP is allowed otherwise; loopback always.
		{"SOAP over plain http", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "http://lms.example.org/saml/soap-slo" },
			"saml.service_providers[0].soap_slo_url"},
		{"SOAP on a private address", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "https://10.1.2.3/saml/soap-slo" },
			"saml.service_providers[0].soap_slo_url"},
		{"SOAP on a link-local address", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "https://169.254.169.254/latest/meta-data" },
			"saml.service_providers[0].soap_slo_url"},
		{"SOAP on a private IPv6 address", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "https://[fd00::1]/saml/soap-slo" },
			"saml.service_providers[0].soap_slo_url"},
		{"SOAP on the unspecified address", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "https://0.0.0.0:8443/slo" },
			"saml.service_providers[0].soap_slo_url"},
		// Loopback is internal too (session 9): allowed only with the switch.
		{"SOAP over plain http on loopback", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "http://127.0.0.1:8080/saml/soap-slo" },
			"saml.service_providers[0].soap_slo_url"},
		{"SOAP on loopback", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "https://127.0.0.1:8443/saml/soap-slo" },
			"saml.service_providers[0].soap_slo_url"},
		{"SOAP on localhost", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "https://localhost:8443/saml/soap-slo" },
			"saml.service_providers[0].soap_slo_url"},
		{"SOAP on [::1]", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "https://[::1]:8443/saml/soap-slo" },
			"saml.service_providers[0].soap_slo_url"},
		{"SOAP on an IPv4-mapped loopback", func(sp *SAMLServiceProvider) { sp.SOAPSLOURL = "https://[::ffff:127.0.0.1]:8443/saml/soap-slo" },
			"saml.service_providers[0].soap_slo_url"},
		{"SOAP over plain http on loopback, allowed", func(sp *SAMLServiceProvider) {
			sp.SOAPSLOURL, sp.AllowInsecureSOAPSLO = "http://127.0.0.1:8080/saml/soap-slo", true
		}, ""},
		{"SOAP over plain http, allowed", func(sp *SAMLServiceProvider) {
			sp.SOAPSLOURL, sp.AllowInsecureSOAPSLO = "http://lms.example.org/saml/soap-slo", true
		}, ""},
		{"SOAP on a private address, allowed", func(sp *SAMLServiceProvider) {
			sp.SOAPSLOURL, sp.AllowInsecureSOAPSLO = "http://10.1.2.3/saml/soap-slo", true
		}, ""},
		{"logout responses signed without a certificate", func(sp *SAMLServiceProvider) { sp.LogoutResponsesSigned, sp.Certificate = true, "" },
			"saml.service_providers[0].certificate"},
	} {
		sp := base()
		c.mod(&sp)
		cfg := SAMLConfig{ServiceProviders: []SAMLServiceProvider{sp}}
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want+":")):
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
}
