package saml_test

import (
	"time"

	"testing"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestACSMustBeHTTPS (review s19 X19-7): the assertion the bridge posts to an SP's assertion
// consumer service is a bearer credential (whoever presents it within its validity is signed
// in at the SP). An OIDC redirect URI must be https (http only on loopback); an ACS may be
// plain http on any host (configuration: checkSAMLEndpoint), and one read from metadata is not
// checked at all (any scheme). A network attacker on an http ACS's path takes the member's
// assertion and signs in as them at the SP.
func TestACSMustBeHTTPS(t *testing.T) {
	md := func(acs string) []byte {
		return []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example.org/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + acs + `" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`)
	}
	for _, acs := range []string{"http://sp.example.org/saml/acs", "javascript:alert(1)", "ftp://sp.example.org/acs", "/relative/acs"} {
		if _, err := saml.FromMetadata(config.SAMLServiceProvider{ID: "sp"}, md(acs), time.Now()); err == nil {
			t.Errorf("metadata with the ACS %q was accepted", acs)
		}
	}
	if _, err := saml.FromConfig(config.SAMLServiceProvider{ID: "sp", EntityID: "https://sp.example.org/saml",
		ACSURLs: []string{"http://sp.example.org/saml/acs"}}); err == nil {
		t.Error("a configured plain-http ACS on a non-loopback host was accepted")
	}
	// A loopback ACS (a developer's SP) stays allowed, as a loopback redirect URI is.
	if _, err := saml.FromMetadata(config.SAMLServiceProvider{ID: "sp"}, md("http://127.0.0.1:8080/saml/acs"), time.Now()); err != nil {
		t.Errorf("loopback ACS refused: %v", err)
	}
}

// TestACSOfOtherBindingsIgnored: an SP's metadata may list endpoints of bindings the bridge
// never uses; the library blanks their Location (PAOS: mod_auth_mellon's generated metadata
// lists a PAOS ACS), so the https check skips them, as it skips SOAP's (checked apart). Before,
// mellon's metadata was refused ("the AssertionConsumerService \"\" must be an absolute
// http(s) URL"), e2e/samlsp's TestMellon with it. Its http endpoints are still checked.
func TestACSOfOtherBindingsIgnored(t *testing.T) {
	md := func(post string) []byte {
		return []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example.org/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example.org/saml/logout"/>
    <md:SingleLogoutService Binding="urn:example:unknown" Location="urn:whatever"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + post + `" index="0"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example.org/saml/artifact" index="1"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:PAOS" Location="https://sp.example.org/saml/paos" index="2"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`)
	}
	if _, err := saml.FromMetadata(config.SAMLServiceProvider{ID: "sp"}, md("https://sp.example.org/saml/acs"), time.Now()); err != nil {
		t.Fatalf("metadata with a PAOS ACS and an unknown SLO binding refused: %v", err)
	}
	if _, err := saml.FromMetadata(config.SAMLServiceProvider{ID: "sp"}, md("http://sp.example.org/saml/acs"), time.Now()); err == nil {
		t.Fatal("its plain-http HTTP-POST ACS was accepted")
	}
}
