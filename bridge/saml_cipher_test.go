package bridge_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestSAMLEncryptionMethodOfAConfigSP: an SP entered in the configuration file that cannot
// decrypt AES-GCM asks for CBC with encryption_method (an SP registered from metadata says so in
// its EncryptionMethod); its assertions are encrypted with that method, the audit names it, and
// the SP (crewjam's samlsp) decrypts and accepts them. Without the setting: AES-256-GCM.
func TestSAMLEncryptionMethodOfAConfigSP(t *testing.T) {
	for _, c := range []struct{ name, method, want string }{
		{"aes128-cbc", "aes128-cbc", "http://www.w3.org/2001/04/xmlenc#aes128-cbc"},
		{"aes256-cbc", "aes256-cbc", "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
		{"default", "", "http://www.w3.org/2009/xmlenc11#aes256-gcm"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sp := newSAMLSP(t)
			e := newEnv(t, func(cfg *bridge.Config) {
				spc := sp.config("lms", "Learning Portal")
				spc.EncryptAssertions, spc.EncryptionMethod = true, c.method
				cfg.SAML.ServiceProviders = []config.SAMLServiceProvider{spc}
			})
			sp.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
			hc, acs, f := samlResponse(t, e, sp)
			doc, err := base64.StdEncoding.DecodeString(f.Get("SAMLResponse"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(doc, []byte(`<xenc:EncryptionMethod Algorithm="`+c.want+`"`)) || bytes.Contains(doc, []byte("<saml:Assertion")) {
				t.Fatalf("assertion not encrypted with %s: %.1500s", c.want, doc)
			}
			name := c.want[strings.LastIndexByte(c.want, '#')+1:]
			if evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "saml.response"}); err != nil || len(evs) != 1 ||
				!strings.HasSuffix(evs[0].Detail, "; assertion encrypted with "+name) {
				t.Fatalf("saml.response audited: %v %+v", err, evs)
			}
			hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := hc.PostForm(acs, f)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("SP refused the encrypted assertion: %d", resp.StatusCode)
			}
		})
	}
}
