package saml

import (
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestSPMetadataInEntitiesDescriptor (brief s20 M2 item 2; SAML metadata 2.0 sections 2.3.1,
// 4.3.1): an SP's metadata inside an EntitiesDescriptor (nested ones too) is read with the
// validUntil of every element on its path, the earliest counting, and the shortest
// cacheDuration; expired by any of them, registration refuses it naming that moment. An
// aggregate of several SPs, or of none, is refused. Before, the library's ParseMetadata took
// only an IdP out of an EntitiesDescriptor: every such SP metadata was refused ("no entity
// found with IDPSSODescriptor"), so the enclosing validUntil was never read.
func TestSPMetadataInEntitiesDescriptor(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	attrs := func(validUntil, cache string) string {
		s := ""
		if validUntil != "" {
			s += ` validUntil="` + validUntil + `"`
		}
		if cache != "" {
			s += ` cacheDuration="` + cache + `"`
		}
		return s
	}
	entity := func(id, validUntil, cache string) string {
		return `<md:EntityDescriptor entityID="` + id + `"` + attrs(validUntil, cache) + `>
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + id + `/acs" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`
	}
	const idp = `<md:EntityDescriptor entityID="https://idp.example.org"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
  <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>`
	entities := func(validUntil, cache string, inner ...string) string {
		return `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"` + attrs(validUntil, cache) + `>` +
			strings.Join(inner, "\n") + `</md:EntitiesDescriptor>`
	}
	// nested drops the namespace declaration of an inner EntitiesDescriptor's (the outer one has it).
	nested := func(s string) string {
		return strings.Replace(s, ` xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"`, "", 1)
	}
	const sp = "https://sp.example.org"
	for _, tc := range []struct {
		name       string
		metadata   string
		validUntil string        // the effective validUntil (empty: none)
		cache      time.Duration // the effective cacheDuration (0: none)
		refused    string        // in the refusal; empty: registered
	}{
		{name: "aggregate without validity", metadata: entities("", "", entity(sp, "", ""))},
		{name: "aggregate's validUntil carried down", metadata: entities(at(time.Hour), "", entity(sp, "", "")), validUntil: at(time.Hour)},
		{name: "entity's earlier", metadata: entities(at(2*time.Hour), "", entity(sp, at(time.Hour), "")), validUntil: at(time.Hour)},
		{name: "aggregate's earlier", metadata: entities(at(time.Hour), "", entity(sp, at(2*time.Hour), "")), validUntil: at(time.Hour)},
		{name: "nested, outermost earliest", metadata: entities(at(time.Hour), "", nested(entities(at(3*time.Hour), "", entity(sp, at(2*time.Hour), "")))),
			validUntil: at(time.Hour)},
		{name: "nested, middle earliest", metadata: entities(at(3*time.Hour), "", nested(entities(at(time.Hour), "", entity(sp, "", "")))),
			validUntil: at(time.Hour)},
		{name: "cacheDuration, the shortest", metadata: entities("", "PT1H", nested(entities("", "PT6H", entity(sp, "", "PT2H")))), cache: time.Hour},
		{name: "cacheDuration of the entity, the shortest", metadata: entities("", "PT6H", entity(sp, "", "PT30M")), cache: 30 * time.Minute},
		{name: "beside an IdP", metadata: entities(at(time.Hour), "", idp, entity(sp, "", "")), validUntil: at(time.Hour)},
		{name: "aggregate expired", metadata: entities(at(-time.Minute), "", entity(sp, at(time.Hour), "")), refused: "expired at " + at(-time.Minute)},
		{name: "outer aggregate expired", metadata: entities(at(-time.Hour), "", nested(entities(at(time.Hour), "", entity(sp, "", "")))),
			refused: "expired at " + at(-time.Hour)},
		{name: "two SPs", metadata: entities("", "", entity(sp, "", ""), entity("https://other.example.org", "", "")), refused: "holds 2 SPs"},
		{name: "no SP", metadata: entities("", "", idp), refused: "no EntityDescriptor with an SPSSODescriptor"},
		{name: "a lone EntityDescriptor, as before", metadata: strings.Replace(entity(sp, at(time.Hour), ""), "<md:EntityDescriptor ",
			`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" `, 1), validUntil: at(time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromMetadata(config.SAMLServiceProvider{ID: "sp"}, []byte(tc.metadata), now)
			if tc.refused != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("FromMetadata: %v; want a refusal with %q", err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromMetadata: %v", err)
			}
			if got.EntityID != sp {
				t.Fatalf("entity %q, want %s", got.EntityID, sp)
			}
			v := ValidUntil(got.Metadata)
			if (tc.validUntil == "") != v.IsZero() || (tc.validUntil != "" && v.UTC().Format(time.RFC3339) != tc.validUntil) {
				t.Fatalf("validUntil %v, want %q", v, tc.validUntil)
			}
			if got.Metadata.CacheDuration != tc.cache {
				t.Fatalf("cacheDuration %v, want %v", got.Metadata.CacheDuration, tc.cache)
			}
		})
	}
}
