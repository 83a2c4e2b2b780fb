package samlsp

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	transient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	persistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	rsaSHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
)

// response is the SAML Response mellon accepted (MellonSamlResponseDump: MELLON_SAML_RESPONSE).
func response(t *testing.T, v *appView) *etree.Element {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(v.Vars["MELLON_SAML_RESPONSE"])
	if err != nil || len(raw) == 0 {
		t.Fatalf("no MELLON_SAML_RESPONSE (%v): %v", err, v.Vars)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// child finds the first descendant element with the local name (any namespace prefix).
func child(el *etree.Element, path ...string) *etree.Element {
	for _, name := range path {
		var next *etree.Element
		for _, c := range el.ChildElements() {
			if c.Tag == name {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		el = next
	}
	return el
}

// signedInAt reports whether the browser has a session at the bridge (its account page).
func signedInAt(t *testing.T, br *browser, b *rpharness.Bridge) bool {
	t.Helper()
	p := br.get(b.Issuer + "/account")
	switch p.Status {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	}
	t.Fatalf("account page: %d %.300s", p.Status, p.Body)
	return false
}

// TestMellon: mod_auth_mellon with its generated metadata registered at the bridge (which lists
// a SOAP single logout service) and the bridge's metadata fed to mellon; SP-initiated sign-in
// through the login page, what the app sees, single sign-on, SP-initiated logout, IdP-initiated
// logout over SOAP and IdP-initiated sign-in.
func TestMellon(t *testing.T) {
	t.Parallel()
	s := startMellon(t, "\tMellonSamlResponseDump On\n\tMellonIdP IDP\n", nil)
	b, m := s.b, s.m
	md := register(t, b, m, config.SAMLServiceProvider{ID: "mellon", Name: "Members' area (mellon)"})
	if !strings.Contains(string(md), "urn:oasis:names:tc:SAML:2.0:bindings:SOAP") {
		t.Fatalf("mellon's generated metadata lists no SOAP single logout service:\n%s", md)
	}
	br := newBrowser(t)

	var v *appView
	if !t.Run("an anonymous visit goes to the bridge's login page, the sign-in reaches the app through mellon", func(t *testing.T) {
		p := br.open(m.URL + "/secure/page")
		if !strings.Contains(strings.Join(br.visits, "\n"), "GET "+b.Issuer+saml.PathSSO+"?SAMLRequest=") {
			t.Fatalf("mellon did not send an HTTP-Redirect AuthnRequest to %s:\n%s", saml.PathSSO, br.trail())
		}
		p = br.signIn(p, b.Issuer, rpharness.StaffLogin, rpharness.StaffPassword)
		v = br.app(p, "sign-in")
		if v.Path != "/page" || v.Vars["AUTH_TYPE"] != "Mellon" {
			t.Fatalf("app at %q with AUTH_TYPE %q", v.Path, v.Vars["AUTH_TYPE"])
		}
	}) {
		return
	}
	t.Run("the attributes are the member's claims, roles the live AMS roles", func(t *testing.T) {
		for k, want := range map[string]string{"MELLON_email": rpharness.StaffEmail, "MELLON_preferred_username": rpharness.StaffLogin,
			"MELLON_staff": "true", "MELLON_IDP": b.Issuer + saml.PathMetadata} {
			if v.Vars[k] != want {
				t.Errorf("%s = %q, want %q", k, v.Vars[k], want)
			}
		}
		roles := strings.Split(v.Vars["MELLON_roles"], "|")
		slices.Sort(roles)
		if want := b.LiveRoles(t, rpharness.StaffLogin); !slices.Equal(roles, want) {
			t.Errorf("MELLON_roles %q, want %q", roles, want)
		}
	})
	resp := response(t, v)
	assertion := child(resp, "Assertion")
	t.Run("response and assertion are signed with RSA-SHA256, for mellon, in response to its request", func(t *testing.T) {
		if assertion == nil {
			t.Fatalf("no (unencrypted) Assertion in the Response")
		}
		for what, el := range map[string]*etree.Element{"response": resp, "assertion": assertion} {
			if alg := child(el, "Signature", "SignedInfo", "SignatureMethod"); alg == nil || alg.SelectAttrValue("Algorithm", "") != rsaSHA256 {
				t.Errorf("%s signature method: %v", what, alg)
			}
		}
		if got := resp.SelectAttrValue("Destination", ""); got != m.URL+"/mellon/postResponse" {
			t.Errorf("Destination %q", got)
		}
		if aud := child(assertion, "Conditions", "AudienceRestriction", "Audience"); aud == nil || aud.Text() != m.EntityID {
			t.Errorf("Audience %v, want %s", aud, m.EntityID)
		}
		if resp.SelectAttrValue("InResponseTo", "") == "" {
			t.Errorf("no InResponseTo")
		}
	})
	t.Run("the NameID has the format mellon asks for (transient), REMOTE_USER is it", func(t *testing.T) {
		nameID := child(assertion, "Subject", "NameID")
		if nameID == nil {
			t.Fatal("no NameID")
		}
		if f := nameID.SelectAttrValue("Format", ""); f != transient {
			t.Errorf("NameID Format %q, want %q (mellon's AuthnRequest asks for it)", f, transient)
		}
		if v.Vars["REMOTE_USER"] != nameID.Text() || v.Vars["MELLON_NAME_ID"] != nameID.Text() {
			t.Errorf("REMOTE_USER %q, MELLON_NAME_ID %q, NameID %q", v.Vars["REMOTE_USER"], v.Vars["MELLON_NAME_ID"], nameID.Text())
		}
	})
	t.Run("mellon's session serves the app again without the bridge", func(t *testing.T) {
		n := len(br.visits)
		v2 := br.app(br.open(m.URL+"/secure/again"), "second visit")
		if v2.Vars["REMOTE_USER"] != v.Vars["REMOTE_USER"] || strings.Contains(strings.Join(br.visits[n:], "\n"), b.Issuer) {
			t.Fatalf("second visit went to the bridge or changed user:\n%s", strings.Join(br.visits[n:], "\n"))
		}
	})

	if !t.Run("SP-initiated logout (mellon's /mellon/logout) ends both sessions and returns to the app's page", func(t *testing.T) {
		p := br.open(m.URL + "/mellon/logout?" + url.Values{"ReturnTo": {m.URL + "/public/out"}}.Encode())
		if pv := br.app(p, "logout"); pv.Path != "/out" || pv.Vars["REMOTE_USER"] != "" {
			t.Fatalf("after logout at %q as %q", pv.Path, pv.Vars["REMOTE_USER"])
		}
		trail := br.trail()
		if !strings.Contains(trail, b.Issuer+saml.PathSLO+"?SAMLRequest=") || !strings.Contains(trail, m.URL+"/mellon/logout?SAMLResponse=") {
			t.Fatalf("no LogoutRequest to the bridge and LogoutResponse back:\n%s", trail)
		}
		if signedInAt(t, br, b) {
			t.Errorf("the bridge session is still there")
		}
		if p := br.open(m.URL + "/secure/page"); loginForm(p.Body) == nil {
			t.Errorf("mellon's session is still there: %d at %s", p.Status, p.URL)
		}
	}) {
		return
	}

	if !t.Run("IdP-initiated logout: signing out at the bridge ends mellon's session over SOAP", func(t *testing.T) {
		v := br.app(br.signIn(br.open(m.URL+"/secure/page"), b.Issuer, rpharness.StaffLogin, rpharness.StaffPassword), "sign-in again")
		const soap = "access POST /mellon/logout 200"
		before := strings.Count(m.Output.String(), soap)
		p := br.open(b.Issuer + "/logout")
		f := findForm(p.Body, "")
		for _, ff := range forms(p.Body) {
			if ff.Action == "/logout" {
				f = ff
			}
		}
		if f == nil {
			t.Fatalf("no sign-out form: %d %.500s", p.Status, p.Body)
		}
		p = br.submit(p, f, nil)
		if !strings.Contains(p.Body, `id="signed-out"`) {
			t.Fatalf("not signed out: %d at %s %.500s", p.Status, p.URL, p.Body)
		}
		if signedInAt(t, br, b) {
			t.Fatalf("the bridge session is still there")
		}
		if err := rpharness.Eventually(func() bool { return strings.Count(m.Output.String(), soap) > before }); err != nil {
			t.Fatalf("mellon never answered a SOAP LogoutRequest: %v", err)
		}
		p = br.open(m.URL + "/secure/page")
		if loginForm(p.Body) == nil {
			t.Fatalf("mellon's session of %s survived the SOAP logout: %d at %s", v.Vars["REMOTE_USER"], p.Status, p.URL)
		}
	}) {
		return
	}

	t.Run("IdP-initiated sign-in (/saml/start/mellon) lands signed in at mellon", func(t *testing.T) {
		p := br.open(b.Issuer + saml.PathStart + "mellon")
		v := br.app(br.signIn(p, b.Issuer, rpharness.StaffLogin, rpharness.StaffPassword), "IdP-initiated sign-in")
		if v.Path != "/landed" || v.Vars["MELLON_email"] != rpharness.StaffEmail {
			t.Fatalf("app at %q got %v", v.Path, v.Vars)
		}
		resp := response(t, v)
		if resp.SelectAttrValue("InResponseTo", "") != "" {
			t.Errorf("an unsolicited response with InResponseTo %q", resp.SelectAttrValue("InResponseTo", ""))
		}
		// No request, no NameIDPolicy: the SP's own format.
		if n := child(resp, "Assertion", "Subject", "NameID"); n == nil || n.SelectAttrValue("Format", "") != persistent {
			t.Errorf("IdP-initiated NameID %v, want the persistent subject", n)
		}
	})
}

// mellonByHand is mellon as entered by hand in the bridge's configuration file: its ACS, its
// browser single logout service only (HTTP-Redirect; no SOAP), its certificate, signed
// AuthnRequests required.
func mellonByHand(base, entityID, certPEM string) config.SAMLServiceProvider {
	return config.SAMLServiceProvider{ID: "mellon", Name: "Members' area (mellon)", EntityID: entityID,
		ACSURLs: []string{base + "/mellon/postResponse"}, SLOURL: base + "/mellon/logout", Certificate: certPEM,
		AuthnRequestsSigned: true}
}

// TestMellonFrontChannelLogout: mellon entered by hand with only its HTTP-Redirect single logout
// service; signing out at the bridge takes the browser to mellon with a signed LogoutRequest
// (SAML profiles 4.4.3), mellon ends its session and answers with a signed LogoutResponse that
// brings the browser back to the bridge and on to the signed-out page.
func TestMellonFrontChannelLogout(t *testing.T) {
	t.Parallel()
	s := startMellon(t, "", mellonByHand)
	b, m := s.b, s.m
	br := newBrowser(t)
	v := br.app(br.signIn(br.open(m.URL+"/secure/page"), b.Issuer, rpharness.StaffLogin, rpharness.StaffPassword), "sign-in")
	if v.Vars["MELLON_email"] != rpharness.StaffEmail {
		t.Fatalf("app got %v", v.Vars)
	}
	p := br.open(b.Issuer + "/logout")
	var f *form
	for _, ff := range forms(p.Body) {
		if ff.Action == "/logout" {
			f = ff
		}
	}
	if f == nil {
		t.Fatalf("no sign-out form: %d %.500s", p.Status, p.Body)
	}
	n := len(br.visits)
	p = br.submit(p, f, nil)
	trail := strings.Join(br.visits[n:], "\n")
	if !strings.Contains(trail, "GET "+m.URL+"/mellon/logout?SAMLRequest=") || !strings.Contains(trail, "GET "+b.Issuer+saml.PathSLO+"?SAMLResponse=") {
		t.Fatalf("the chain did not visit mellon with a LogoutRequest and come back with its LogoutResponse:\n%s", trail)
	}
	if !strings.Contains(p.Body, `id="signed-out"`) && !strings.HasPrefix(p.URL, b.Issuer+"/logout/done") {
		t.Fatalf("the chain did not end on the signed-out page: %d at %s %.500s", p.Status, p.URL, p.Body)
	}
	if strings.Contains(b.Log.String(), "saml.logout_response_refused") {
		t.Fatalf("the bridge refused mellon's LogoutResponse")
	}
	if signedInAt(t, br, b) {
		t.Errorf("the bridge session is still there")
	}
	if p := br.open(m.URL + "/secure/page"); loginForm(p.Body) == nil {
		t.Errorf("mellon's session survived the logout: %d at %s", p.Status, p.URL)
	}
}

// TestMellonSignatureMethods: mellon signs its AuthnRequests (HTTP-Redirect: SigAlg and
// Signature) with the method it is configured with; the bridge, which requires its signature,
// accepts RSA-SHA256 and RSA-SHA512 and refuses RSA-SHA1 (no sign-in page, no response).
func TestMellonSignatureMethods(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method string
		ok     bool
	}{{"rsa-sha256", true}, {"rsa-sha512", true}, {"rsa-sha1", false}} {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			s := startMellon(t, "\tMellonSignatureMethod "+tc.method+"\n", mellonByHand)
			br := newBrowser(t)
			p := br.open(s.m.URL + "/secure/page")
			if !strings.Contains(br.trail(), "SigAlg="+url.QueryEscape("http://www.w3.org/")) {
				t.Fatalf("mellon sent no signed AuthnRequest:\n%s", br.trail())
			}
			if !tc.ok {
				if p.Status != http.StatusBadRequest || loginForm(p.Body) != nil || !strings.Contains(p.Body, "signature") {
					t.Fatalf("an RSA-SHA1 signed request: %d at %s, want 400 (signature refused) %.300s", p.Status, p.URL, p.Body)
				}
				return
			}
			v := br.app(br.signIn(p, s.b.Issuer, rpharness.StaffLogin, rpharness.StaffPassword), "sign-in")
			if v.Vars["MELLON_preferred_username"] != rpharness.StaffLogin {
				t.Fatalf("app got %v", v.Vars)
			}
		})
	}
}

// TestMellonEncryptedAssertion: registered with encrypt_assertions, mellon gets its assertion
// encrypted to the encryption certificate of its generated metadata (no assertion in the clear)
// and decrypts it with its key (Lasso): the app sees the member.
func TestMellonEncryptedAssertion(t *testing.T) {
	t.Parallel()
	s := startMellon(t, "\tMellonSamlResponseDump On\n", nil)
	register(t, s.b, s.m, config.SAMLServiceProvider{ID: "mellon", Name: "Members' area (mellon)", EncryptAssertions: true})
	br := newBrowser(t)
	v := br.app(br.signIn(br.open(s.m.URL+"/secure/page"), s.b.Issuer, rpharness.StaffLogin, rpharness.StaffPassword), "sign-in")
	if v.Vars["MELLON_email"] != rpharness.StaffEmail {
		t.Fatalf("app got %v", v.Vars)
	}
	resp := response(t, v)
	if child(resp, "EncryptedAssertion") == nil || child(resp, "Assertion") != nil {
		t.Fatalf("the assertion was not encrypted")
	}
	// With AES-256-GCM (mellon's metadata lists no EncryptionMethod; the bridge prefers GCM to
	// CBC, bridge/saml/encryption.go), which Lasso and xmlsec decrypt.
	if m := child(resp, "EncryptedAssertion", "EncryptedData", "EncryptionMethod"); m == nil ||
		m.SelectAttrValue("Algorithm", "") != "http://www.w3.org/2009/xmlenc11#aes256-gcm" {
		t.Fatalf("the assertion was not encrypted with AES-256-GCM: %v", m)
	}
}

// TestMellonClockSkew: mellon's clock a minute ahead of the bridge's, or a minute behind
// (libfaketime): the bridge accepts its AuthnRequest (issued "in the future", within the
// allowed skew, or a minute old), and mellon accepts the bridge's assertion (valid from three
// minutes before it was issued to 90 seconds after). Four minutes ahead is past the skew the
// bridge allows: it refuses the request as outside its validity window.
func TestMellonClockSkew(t *testing.T) {
	t.Parallel()
	for _, offset := range []int{60, -60, 240} {
		t.Run(fmt.Sprintf("%+ds", offset), func(t *testing.T) {
			t.Parallel()
			s := startMellonSkewed(t, offset, "", mellonByHand)
			br := newBrowser(t)
			p := br.open(s.m.URL + "/secure/page")
			// The shift took: mellon's AuthnRequest was issued offset away from the bridge's now.
			if skew := issuedAt(t, br).Sub(time.Now()); (skew - time.Duration(offset)*time.Second).Abs() > 20*time.Second {
				t.Fatalf("mellon's AuthnRequest issued %s from now, want about %ds", skew.Round(time.Second), offset)
			}
			if offset > 180 {
				if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "outside its validity window") {
					t.Fatalf("a request issued %ds ahead: %d at %s, want 400 outside its validity window", offset, p.Status, p.URL)
				}
				return
			}
			v := br.app(br.signIn(p, s.b.Issuer, rpharness.StaffLogin, rpharness.StaffPassword), "sign-in")
			if v.Vars["MELLON_preferred_username"] != rpharness.StaffLogin {
				t.Fatalf("app got %v", v.Vars)
			}
		})
	}
}

// issuedAt is the IssueInstant of the last AuthnRequest the browser carried to the bridge.
func issuedAt(t *testing.T, br *browser) time.Time {
	t.Helper()
	for i := len(br.visits) - 1; i >= 0; i-- {
		_, raw, ok := strings.Cut(br.visits[i], " ")
		u, err := url.Parse(raw)
		if !ok || err != nil || u.Query().Get("SAMLRequest") == "" {
			continue
		}
		deflated, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
		if err != nil {
			t.Fatal(err)
		}
		xmlText, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
		if err != nil {
			t.Fatal(err)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(xmlText); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339, doc.Root().SelectAttrValue("IssueInstant", ""))
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	t.Fatalf("no AuthnRequest carried:\n%s", br.trail())
	return time.Time{}
}

// withoutSOAP drops the SOAP single logout service from mellon's generated metadata (an
// administrator who wants only the browser logout for it).
func withoutSOAP(md []byte) []byte {
	return regexp.MustCompile(`(?s)<SingleLogoutService\s+Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP"[^>]*/>`).ReplaceAll(md, nil)
}

// TestMellonSPInitiatedLogoutChain: two mellons in one bridge session, "a" (its generated
// metadata, SOAP and HTTP-Redirect logout) and "b" (registered without its SOAP service: the
// browser chain). A logout started at a (mellon's /mellon/logout) ends the bridge session,
// takes the browser to b with a LogoutRequest and back, and ends with the bridge's
// LogoutResponse to a, which returns to a's page; all three sessions are gone.
func TestMellonSPInitiatedLogoutChain(t *testing.T) {
	t.Parallel()
	// Cookies do not tell ports apart: each mellon on 127.0.0.1 needs its own cookie name.
	s := startMellon(t, "\tMellonVariable a\n", nil)
	a := s.m
	bm := secondMellon(t, s, "\tMellonVariable b\n")
	register(t, s.b, a, config.SAMLServiceProvider{ID: "a", Name: "Members' area"})
	register(t, s.b, bm, config.SAMLServiceProvider{ID: "b", Name: "Events"}, withoutSOAP)
	br := newBrowser(t)
	br.app(br.signIn(br.open(a.URL+"/secure/page"), s.b.Issuer, rpharness.StaffLogin, rpharness.StaffPassword), "sign-in at a")
	n := len(br.visits)
	br.app(br.open(bm.URL+"/secure/page"), "single sign-on at b")
	if strings.Contains(strings.Join(br.visits[n:], "\n"), s.b.Issuer+saml.PathLogin) {
		t.Fatalf("b asked for the password again")
	}
	n = len(br.visits)
	p := br.open(a.URL + "/mellon/logout?" + url.Values{"ReturnTo": {a.URL + "/public/out"}}.Encode())
	if v := br.app(p, "logout"); v.Path != "/out" {
		t.Fatalf("logout ended at %q", v.Path)
	}
	trail := strings.Join(br.visits[n:], "\n")
	for _, step := range []string{s.b.Issuer + saml.PathSLO + "?SAMLRequest=", bm.URL + "/mellon/logout?SAMLRequest=",
		s.b.Issuer + saml.PathSLO + "?SAMLResponse=", a.URL + "/mellon/logout?SAMLResponse="} {
		if !strings.Contains(trail, "GET "+step) {
			t.Fatalf("no GET %s... in the logout:\n%s", step, trail)
		}
	}
	if signedInAt(t, br, s.b) {
		t.Errorf("the bridge session is still there")
	}
	for _, m := range []*mellon{a, bm} {
		if p := br.open(m.URL + "/secure/page"); loginForm(p.Body) == nil {
			t.Errorf("%s: mellon's session survived the logout: %d at %s", m.URL, p.Status, p.URL)
		}
	}
}
