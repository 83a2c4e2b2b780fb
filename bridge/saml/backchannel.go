package saml

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Back-channel single logout (SAML profiles 4.4, SOAP binding, SAML bindings 3.2): when a
// session ends without the browser (an administrator ends it, a factor reset, an upstream
// provider's back-channel logout) or with it, every SP the session signed into that lists a
// SingleLogoutService with the SOAP binding is sent a signed LogoutRequest naming the member
// (NameID) and the session (SessionIndex), from the outbox: queued in the transaction that ends
// the session, retried with backoff, one event per SP. SPs with only browser bindings are told
// through the browser when the logout goes through it (Logouts.Chain, frontchannel.go).
const (
	// SLOChannel is the outbox channel of SAML back-channel logouts, SLOType their event type.
	SLOChannel = "saml_slo"
	SLOType    = "logout.saml_soap"
	// SLOUnconfirmedType records a browser single logout its SP did not confirm (no answer, or
	// a status other than Success): a dead letter at its first delivery, with the reason.
	SLOUnconfirmedType = "logout.saml_browser_unconfirmed"
)

// soapEnvelopeNS is the SOAP 1.1 envelope's namespace (SAML bindings 3.2.3.1).
const soapEnvelopeNS = "http://schemas.xmlsoap.org/soap/envelope/"

// sloPayload is the stored payload of a back-channel logout event; the request is made and
// signed at delivery, so that a retry carries a fresh IssueInstant.
type sloPayload struct {
	SP           string `json:"sp"`
	NameID       string `json:"name_id"`
	NameIDFormat string `json:"name_id_format,omitempty"`
	SessionIndex string `json:"session_index,omitempty"`
}

// soapSLO is the SP's SingleLogoutService location with the SOAP binding ("" when none).
func soapSLO(sp *SP) string {
	for _, d := range sp.Metadata.SPSSODescriptors {
		for _, ep := range d.SingleLogoutServices {
			if ep.Binding == crewjam.SOAPBinding && ep.Location != "" {
				return ep.Location
			}
		}
	}
	return ""
}

type exceptKey struct{}

// exceptSP is ctx for ending a session on an SP's own LogoutRequest: that SP, answered with a
// LogoutResponse, is not sent a back-channel LogoutRequest.
func exceptSP(ctx context.Context, entityID string) context.Context {
	return context.WithValue(ctx, exceptKey{}, entityID)
}

// BackChannel prepares the back-channel logout events of an ending session's SPs
// (backchannel.Logouts.Others): it reads the registrations of the SPs sps (entity ids) now,
// before the store's transaction that ends the session, and returns the builder that
// transaction calls with the session's participants, which reads nothing: one event per
// participant whose SP has a SOAP single logout service; the participants of SPs not in sps
// come back unresolved (the session signed into them since). The participants are read, not
// taken: the browser chain skips these SPs.
func (l *Logouts) BackChannel(ctx context.Context, sps []string) func(*sso.Session, []*store.SAMLParticipant) ([]*store.OutboxEvent, []string) {
	except, _ := ctx.Value(exceptKey{}).(string)
	// to is, per entity id of sps, the SP to send a LogoutRequest (nil: none; it is the SP
	// answered through the browser, it has no SOAP service, it is gone, or its record does not
	// build). An SP whose read failed (the store busy) is left out: unresolved, so that the
	// end reads it again, and audits it at its last try, rather than take it for one without a
	// SOAP service and tell it nothing, unseen.
	to := make(map[string]*SP, len(sps))
	for _, id := range sps {
		if id == except {
			to[id] = nil
			continue
		}
		// An SP refused for sign-ins since is still told (Registry.ForLogout).
		sp, err := l.Registry.ForLogout(ctx, id)
		var unusable *UnusableError
		switch {
		case err == nil && soapSLO(sp) != "":
			to[id] = sp
		case err == nil, errors.Is(err, sso.ErrNotFound), errors.As(err, &unusable):
			to[id] = nil
		default:
			if l.Logger != nil {
				l.Logger.WarnContext(ctx, "saml service provider not read for its back-channel logout, read again", "saml_sp", id, "err", err)
			}
		}
	}
	return func(sess *sso.Session, ps []*store.SAMLParticipant) (out []*store.OutboxEvent, unresolved []string) {
		for _, p := range ps {
			sp, ok := to[p.SP]
			if !ok {
				unresolved = append(unresolved, p.SP)
			}
			if sp == nil {
				continue
			}
			b, _ := json.Marshal(sloPayload{SP: p.SP, NameID: p.NameID, NameIDFormat: p.NameIDFormat, SessionIndex: p.SessionIndex})
			out = append(out, &store.OutboxEvent{ID: outbox.NewEventID(), Key: outbox.SessionKey(SLOChannel, sp.Settings.ID, sess.Subject, p.SessionIndex),
				Type: SLOType, Channel: SLOChannel, ClientID: sp.Settings.ID, Subject: sess.Subject, Payload: b})
		}
		return out, unresolved
	}
}

// BackChannelSender delivers SAML back-channel logout events: a LogoutRequest signed with the
// IdP's key (enveloped XML signature, RSA-SHA256), in a SOAP envelope, POSTed to the SP's SOAP
// single logout service. A LogoutResponse with the status Success delivers it; a Requester
// status or an SP that is gone or no longer has the endpoint is final; anything else is retried.
type BackChannelSender struct {
	Registry *Registry
	Keys     *KeyRing
	// Issuer is the bridge's issuer URL (the IdP's entity id is Issuer + PathMetadata).
	Issuer string
	// HTTP sends the requests: its Internal sender for the SPs allowed internal addresses
	// (allow_insecure_soap_slo).
	HTTP outbox.Senders
	Now  func() time.Time
	// WantSigned counts only signed LogoutResponses from every SP (saml.want_logout_responses_signed);
	// an SP's logout_responses_signed asks it of that SP.
	WantSigned bool
}

// Deliver sends the event's LogoutRequest.
func (d *BackChannelSender) Deliver(ctx context.Context, e *store.OutboxEvent) error {
	if e.Type == SLOUnconfirmedType {
		var u unconfirmedPayload
		_ = json.Unmarshal(e.Payload, &u)
		return outbox.Permanent("the browser single logout at %s was not confirmed (%s); it cannot be sent again without the member's browser", u.SP, u.Reason)
	}
	var p sloPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return outbox.Permanent("decode event: %v", err)
	}
	// An SP refused for sign-ins since (an http ACS, an e-mail NameID without email_verified)
	// is still sent its members' logouts (Registry.ForLogout).
	sp, err := d.Registry.ForLogout(ctx, p.SP)
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return outbox.Permanent("service provider %s is no longer registered", p.SP)
		}
		// Its stored registration does not read at all (Registry.Unusable): no retry makes it
		// read, and the other logout paths skip it (Logouts.BackChannel, startChain); only new
		// metadata (saml refresh) or removing it does, which deletes this event.
		if errors.Is(err, ErrUnusable) {
			return outbox.Permanent("%v; give it its current metadata (ssobridge saml refresh), or remove it (ssobridge saml remove) and register it again", err)
		}
		return err
	}
	dest := soapSLO(sp)
	if dest == "" {
		return outbox.Permanent("service provider %s no longer has a SOAP single logout service", sp.Settings.ID)
	}
	// Configured SPs are checked at start-up and registered ones at registration; one
	// registered before the check existed is refused here, before anything is sent.
	if err := config.CheckSOAPSLOURL(dest, sp.Settings.AllowInsecureSOAPSLO); err != nil {
		return outbox.Permanent("service provider %s: its SOAP single logout service %q %v", sp.Settings.ID, dest, err)
	}
	key, _, err := d.Keys.Signing()
	if err != nil {
		return err
	}
	body, id, err := d.request(key, sp, &p)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("SOAPAction", "http://www.oasis-open.org/committees/security")
	resp, rb, err := d.HTTP.For(sp.Settings.AllowInsecureSOAPSLO).Do(ctx, http.MethodPost, dest, h, body)
	if err != nil {
		return err
	}
	if err := outbox.Status("saml back-channel logout", resp, rb); err != nil && (resp.StatusCode != http.StatusInternalServerError || !bytes.Contains(rb, []byte("Fault"))) {
		return err
	}
	entityID := strings.TrimSuffix(d.Issuer, "/") + PathMetadata
	return checkLogoutResponse(rb, sp, id, d.WantSigned || sp.Settings.LogoutResponsesSigned, d.Now(), entityID, strings.TrimSuffix(d.Issuer, "/")+PathSLO)
}

// request is the signed SOAP LogoutRequest naming p at sp, and its id.
func (d *BackChannelSender) request(key *signingKey, sp *SP, p *sloPayload) ([]byte, string, error) {
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", err
	}
	now := d.Now().UTC()
	entityID := strings.TrimSuffix(d.Issuer, "/") + PathMetadata
	nameID := &crewjam.NameID{Format: p.NameIDFormat, Value: p.NameID}
	if p.NameIDFormat == string(crewjam.PersistentNameIDFormat) || p.NameIDFormat == string(crewjam.TransientNameIDFormat) {
		nameID.NameQualifier, nameID.SPNameQualifier = entityID, sp.EntityID
	}
	notAfter := now.Add(crewjam.MaxIssueDelay)
	// No Destination: the SOAP binding does not ask for one (SAML bindings 3.2; it is required of
	// signed messages of the browser bindings only), and SPs check it against their browser
	// single logout URL.
	lr := &crewjam.LogoutRequest{ID: "id-" + hex.EncodeToString(raw), Version: "2.0", IssueInstant: now, NotOnOrAfter: &notAfter,
		Issuer: &crewjam.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: entityID},
		NameID: nameID}
	if p.SessionIndex != "" {
		lr.SessionIndex = &crewjam.SessionIndex{Value: p.SessionIndex}
	}
	signed, err := signRequest(key.signer, lr.Element())
	if err != nil {
		return nil, "", fmt.Errorf("sign logout request: %w", err)
	}
	doc := etree.NewDocument()
	env := doc.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", soapEnvelopeNS)
	env.CreateElement("soap:Body").AddChild(signed)
	b, err := doc.WriteToBytes()
	return b, lr.ID, err
}

// signRequest signs a request with an enveloped signature put where the schema has it: right
// after its Issuer (SAML core 3.2.1, RequestAbstractType: Issuer, Signature, Extensions, then
// the request's own elements). The signer appends it as the last child, where schema-checking
// SPs refuse the message (mod_auth_mellon through Lasso: "Element <ds:Signature> was not
// expected at this location inside element <LogoutRequest>"). The enveloped-signature transform
// leaves the signature out of the digest wherever it is, so moving it changes nothing signed.
func signRequest(sc *dsig.SigningContext, el *etree.Element) (*etree.Element, error) {
	out, err := sc.SignEnveloped(el)
	if err != nil {
		return nil, err
	}
	// Read back before moving anything: the signer's tree does not keep its children's indexes
	// (RemoveChild would not find the signature).
	doc := etree.NewDocument()
	doc.SetRoot(out)
	raw, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	back := etree.NewDocument()
	if err := back.ReadFromBytes(raw); err != nil {
		return nil, err
	}
	signed := back.Root()
	var sig *etree.Element
	at := 0
	for _, c := range signed.ChildElements() {
		switch {
		case c.Tag == "Issuer" && c.NamespaceURI() == "urn:oasis:names:tc:SAML:2.0:assertion":
			at = c.Index() + 1
		case c.Tag == "Signature" && c.NamespaceURI() == dsigNS:
			sig = c
		}
	}
	if sig == nil {
		return nil, errors.New("the signer added no signature")
	}
	signed.RemoveChild(sig)
	signed.InsertChildAt(at, sig)
	return signed, nil
}

// checkLogoutResponse reads the SP's SOAP answer to the LogoutRequest id (SAML profiles 4.4.4.2,
// bindings 3.2.3). It is nil only for a LogoutResponse that
//   - is the one element of the SOAP Body, in the SAML protocol namespace;
//   - when it carries an enveloped signature, is signed with a certificate of the SP's metadata
//     (SHA-1 refused; the signature a direct child of the response that references it) and is
//     read from what the signature covers; when it carries none, the SP and the bridge allow
//     unsigned answers (wantSigned false);
//   - is issued by the SP, answers id (InResponseTo), is SAML 2.0, recently issued, and names
//     no Destination or this IdP (its entity id or single logout service);
//   - has the status Success.
//
// Any other answer is an error to retry (the outbox's backoff, then a dead letter that the
// operator sees), except the status Requester: the SP refuses the request as such, which a
// retry does not change.
func checkLogoutResponse(body []byte, sp *SP, id string, wantSigned bool, now time.Time, ours ...string) error {
	el, err := soapLogoutResponse(body)
	if err != nil {
		return fmt.Errorf("saml back-channel logout: %w", err)
	}
	signed, err := verifiedLogoutResponse(el, sp, wantSigned)
	if err != nil {
		return fmt.Errorf("saml back-channel logout: the answer of %s: %w", sp.Settings.ID, err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(signed)
	raw, err := doc.WriteToBytes()
	if err != nil {
		return fmt.Errorf("saml back-channel logout: %w", err)
	}
	var resp crewjam.LogoutResponse
	if err := xml.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("saml back-channel logout: unreadable LogoutResponse: %w", err)
	}
	switch {
	case resp.Issuer == nil || resp.Issuer.Value != sp.EntityID:
		return fmt.Errorf("saml back-channel logout: LogoutResponse issued by %q, not %s", issuerOf(&resp), sp.EntityID)
	case resp.InResponseTo != id:
		return fmt.Errorf("saml back-channel logout: LogoutResponse to %q, not to the request sent (%s)", resp.InResponseTo, id)
	case resp.Version != "2.0":
		return fmt.Errorf("saml back-channel logout: LogoutResponse version %q", resp.Version)
	case resp.IssueInstant.Add(crewjam.MaxIssueDelay).Before(now):
		return fmt.Errorf("saml back-channel logout: LogoutResponse issued at %s, too long ago", resp.IssueInstant.UTC().Format(time.RFC3339))
	case resp.IssueInstant.Add(-crewjam.MaxClockSkew).After(now):
		return fmt.Errorf("saml back-channel logout: LogoutResponse issued at %s, in the future", resp.IssueInstant.UTC().Format(time.RFC3339))
	case resp.Destination != "" && !slices.Contains(ours, resp.Destination):
		return fmt.Errorf("saml back-channel logout: LogoutResponse for %q, not this IdP", resp.Destination)
	}
	switch status := resp.Status.StatusCode.Value; status {
	case crewjam.StatusSuccess:
		return nil
	case crewjam.StatusRequester:
		return outbox.Permanent("saml back-channel logout: the service provider answered %s", status)
	default:
		return fmt.Errorf("saml back-channel logout: the service provider answered %q", status)
	}
}

func issuerOf(r *crewjam.LogoutResponse) string {
	if r.Issuer == nil {
		return ""
	}
	return r.Issuer.Value
}

const (
	samlProtocolNS = "urn:oasis:names:tc:SAML:2.0:protocol"
	dsigNS         = "http://www.w3.org/2000/09/xmldsig#"
)

// soapLogoutResponse is the LogoutResponse of a SOAP envelope, detached with the namespaces it
// inherits.
func soapLogoutResponse(body []byte) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(body); err != nil {
		return nil, fmt.Errorf("unreadable answer: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "Envelope" || root.NamespaceURI() != soapEnvelopeNS {
		return nil, errors.New("the answer is not a SOAP envelope")
	}
	var bodyEl *etree.Element
	for _, c := range root.ChildElements() {
		if c.Tag == "Body" && c.NamespaceURI() == soapEnvelopeNS {
			if bodyEl != nil {
				return nil, errors.New("the SOAP envelope has two Bodies")
			}
			bodyEl = c
		}
	}
	if bodyEl == nil {
		return nil, errors.New("the SOAP envelope has no Body")
	}
	kids := bodyEl.ChildElements()
	if len(kids) != 1 {
		return nil, fmt.Errorf("the SOAP Body holds %d elements, not one LogoutResponse", len(kids))
	}
	el := kids[0]
	if el.Tag == "Fault" && el.NamespaceURI() == soapEnvelopeNS {
		return nil, fmt.Errorf("SOAP fault: %s", strings.TrimSpace(el.FindElement("./faultstring").Text()))
	}
	if el.Tag != "LogoutResponse" || el.NamespaceURI() != samlProtocolNS {
		return nil, errors.New("the answer holds no LogoutResponse")
	}
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	if ctx, err = ctx.SubContext(el); err != nil {
		return nil, err
	}
	return etreeutils.NSDetatch(ctx, el)
}

// verifiedLogoutResponse checks el's enveloped signature against the SP's signing certificates
// and returns what it covers; el itself when it is unsigned and may be.
func verifiedLogoutResponse(el *etree.Element, sp *SP, wantSigned bool) (*etree.Element, error) {
	var sigs []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == dsigNS {
			sigs = append(sigs, c)
		}
	}
	switch {
	case len(sigs) == 0 && wantSigned:
		return nil, errors.New("the LogoutResponse is not signed, and its signature is required")
	case len(sigs) == 0:
		if el.FindElement(".//Signature") != nil {
			return nil, errors.New("a signature inside the LogoutResponse, not on it")
		}
		return el, nil
	case len(sigs) > 1:
		return nil, errors.New("the LogoutResponse has two signatures")
	}
	if ref := sigs[0].FindElement("./SignedInfo/Reference"); ref == nil || ref.SelectAttrValue("URI", "") != "#"+el.SelectAttrValue("ID", "") ||
		el.SelectAttrValue("ID", "") == "" {
		return nil, errors.New("the signature does not reference the LogoutResponse")
	}
	for _, path := range []string{"./SignedInfo/SignatureMethod", "./SignedInfo/Reference/DigestMethod"} {
		if m := sigs[0].FindElement(path); m == nil || strings.Contains(strings.ToLower(m.SelectAttrValue("Algorithm", "")), "sha1") {
			return nil, errors.New("a SHA-1 signature or digest, or none named")
		}
	}
	var certs []*x509.Certificate
	for _, data := range signingCerts(sp.Metadata) {
		c, err := config.ParseSAMLCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("a certificate of the metadata: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("the LogoutResponse is signed, and the SP's metadata has no signing certificate to check it with")
	}
	var errs []error
	// One certificate at a time: without a certificate in KeyInfo, dsig picks the one it trusts
	// only when it trusts one.
	for _, c := range certs {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		vc.IdAttribute = "ID"
		// The SP's certificate is trusted as registered, like its request signatures (the
		// metadata's certificates are keys, not a PKI).
		vc.Clock = dsig.NewFakeClockAt(c.NotBefore)
		signed, err := vc.Validate(el)
		if err == nil {
			return signed, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("signature not valid with the SP's certificates: %w", errors.Join(errs...))
}
