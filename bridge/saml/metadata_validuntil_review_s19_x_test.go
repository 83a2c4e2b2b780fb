package saml_test

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestMetadataPastValidUntilRefused (review s19 X19-3): an SP's metadata whose validUntil has
// passed is no longer to be relied on (SAML metadata 2.0 section 2.3.1: validUntil "indicates
// the expiration time of the metadata contained in the element and any contained elements";
// Shibboleth's IdP refuses such metadata by default, requireValidMetadata). The bridge reads an
// SP's metadata once, at registration, and never again: it takes metadata that has expired
// already, and keeps using it (its keys, its endpoints) after its validUntil, with no warning.
func TestMetadataPastValidUntilRefused(t *testing.T) {
	past := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	md := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example.org/saml" validUntil="` + past + `">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.org/saml/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`
	sp, err := saml.FromMetadata(config.SAMLServiceProvider{ID: "sp"}, []byte(md), time.Now())
	if err == nil {
		t.Fatalf("metadata that expired at %s was accepted (SP %q)", past, sp.EntityID)
	}
}
