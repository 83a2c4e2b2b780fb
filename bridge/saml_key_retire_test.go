package bridge_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestSAMLKeyWithdrawn: the admin API withdraws the SAML signing key (its private key may be
// out). The metadata publishes the successor's certificate alone from then on (SAML metadata
// 2.4.1.1), and is signed by it; the next response is signed by the successor: a real SP
// (crewjam's samlsp) that still holds the old metadata refuses it, as SPs do until they read
// the metadata again, and accepts it once it has (the response verifies with the successor's
// certificate). The withdrawal is audited; a second one is 404; GET /admin/saml/keys lists
// the successor alone.
func TestSAMLKeyWithdrawn(t *testing.T) {
	e, lms, _, _ := samlEnv(t, func(c *bridge.Config) { c.Admin.Token = adminToken })
	srv := httptest.NewServer(e.bridge.AdminHandler())
	t.Cleanup(srv.Close)
	a := adminClient{t: t, url: srv.URL}
	post := func(c *http.Client, acs string, f url.Values) int {
		t.Helper()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.PostForm(acs, f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c, acs, f := samlResponse(t, e, lms); post(c, acs, f) != http.StatusFound {
		t.Fatal("before the withdrawal: the SP refused the response")
	}

	list := a.ok(http.MethodGet, "/admin/saml/keys", nil)["keys"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["signing"] != true {
		t.Fatalf("GET /admin/saml/keys: %v", list)
	}
	suspect := list[0].(map[string]any)["kid"].(string)
	retired := a.ok(http.MethodPost, "/admin/saml/keys/"+suspect+"/retire", nil)
	succ, _ := retired["successor"].(map[string]any)
	if retired["retired"] != suspect || succ == nil || succ["signing"] != true || succ["kid"] == suspect {
		t.Fatalf("retire: %v", retired)
	}
	successor := succ["kid"].(string)
	list = a.ok(http.MethodGet, "/admin/saml/keys", nil)["keys"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["kid"] != successor {
		t.Fatalf("GET /admin/saml/keys after the withdrawal: %v, want the successor %s alone", list, successor)
	}

	// The metadata: the successor's certificate alone, and the metadata signed with it.
	resp, err := e.srv.Client().Get(e.issuer + saml.PathMetadata)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if _, err := doc.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var certs []string
	for _, kd := range doc.FindElements("//KeyDescriptor") {
		for _, c := range kd.FindElements(".//X509Certificate") {
			certs = append(certs, strings.TrimSpace(c.Text()))
		}
	}
	if len(certs) != 1 || fingerprintOf(t, certs[0]) != succ["certificate_sha256"] {
		t.Fatalf("metadata after the withdrawal: %d certificates, want the successor's (%v) alone", len(certs), succ["certificate_sha256"])
	}
	if sig := doc.FindElement("//Signature//X509Certificate"); sig == nil || strings.TrimSpace(sig.Text()) != certs[0] {
		t.Fatal("the metadata is not signed with the successor's key")
	}

	// An SP holding the old metadata refuses what the successor signs...
	if c, acs, f := samlResponse(t, e, lms); post(c, acs, f) == http.StatusFound {
		t.Fatal("an SP that holds the withdrawn key's certificate accepted a response after the withdrawal")
	}
	// ...and, once it reads the metadata again, takes it.
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	if c, acs, f := samlResponse(t, e, lms); post(c, acs, f) != http.StatusFound {
		t.Fatal("an SP that read the metadata again refused the successor's response")
	}

	events, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "admin.saml_signing_key_retired", Since: time.Now().Add(-time.Hour)})
	if err != nil || len(events) != 1 || !strings.Contains(events[0].Detail, "kid="+suspect) ||
		!strings.Contains(events[0].Detail, "successor="+successor) || !strings.Contains(events[0].Detail, "admin-api@") {
		t.Fatalf("audit: %v %+v", err, events)
	}
	if status, _, body := a.do(http.MethodPost, "/admin/saml/keys/"+suspect+"/retire", adminToken, nil); status != http.StatusNotFound {
		t.Fatalf("withdrawing the withdrawn key again: %d %v", status, body)
	}
}

// fingerprintOf is the SHA-256 fingerprint (AB:CD:...) of a base64 DER certificate.
func fingerprintOf(t *testing.T, b64 string) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// TestSAMLKeyWithdrawnOnEveryReplica: a SAML key withdrawn through one replica's
// administration is dropped by the other at the keys notification (the in-process cluster
// has no fallback poll here): its metadata publishes the successor's certificate alone.
func TestSAMLKeyWithdrawnOnEveryReplica(t *testing.T) {
	a, b, _, _ := twoReplicas(t)
	ctx := t.Context()
	metadataCerts := func(s *bridge.Server) []string {
		t.Helper()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9"+saml.PathMetadata, nil))
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(rec.Body.Bytes()); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("metadata: %d %v", rec.Code, err)
		}
		var out []string
		for _, c := range doc.FindElements("//KeyDescriptor//X509Certificate") {
			out = append(out, fingerprintOf(t, strings.TrimSpace(c.Text())))
		}
		return out
	}
	list, err := a.Admin().SAMLSigningKeys(ctx, "test")
	if err != nil || len(list) != 1 {
		t.Fatalf("SAML keys: %+v %v", list, err)
	}
	if got := metadataCerts(b); len(got) != 1 || got[0] != list[0].CertificateSHA256 {
		t.Fatalf("replica b's metadata before: %v, want %s", got, list[0].CertificateSHA256)
	}
	succ, err := a.Admin().RetireSAMLSigningKey(ctx, "test", list[0].ID)
	if err != nil || succ == nil {
		t.Fatalf("withdraw: %+v %v", succ, err)
	}
	for name, s := range map[string]*bridge.Server{"a": a, "b": b} {
		if got := metadataCerts(s); len(got) != 1 || got[0] != succ.CertificateSHA256 {
			t.Fatalf("replica %s's metadata after the withdrawal: %v, want the successor's %s alone", name, got, succ.CertificateSHA256)
		}
	}
}
