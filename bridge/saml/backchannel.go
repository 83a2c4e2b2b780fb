package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

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
// by the signed-out page's frames when the logout goes through the browser (Logouts.frames).
const (
	// SLOChannel is the outbox channel of SAML back-channel logouts, SLOType their event type.
	SLOChannel = "saml_slo"
	SLOType    = "logout.saml_soap"
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

// BackChannel returns the back-channel logout events of an ended session: one per SP it signed
// into that has a SOAP single logout service (backchannel.Logouts.Others). The participants are
// read, not taken: the signed-out page's frames skip these SPs.
func (l *Logouts) BackChannel(ctx context.Context, sess *sso.Session) []*store.OutboxEvent {
	ps, err := l.Store.SAMLParticipants(ctx, sess.ID)
	if err != nil {
		l.Logger.ErrorContext(ctx, "saml participants of an ending session", "err", err)
		return nil
	}
	except, _ := ctx.Value(exceptKey{}).(string)
	var out []*store.OutboxEvent
	for _, p := range ps {
		if p.SP == except {
			continue
		}
		sp, err := l.Registry.ByEntityID(ctx, p.SP)
		if err != nil || soapSLO(sp) == "" {
			continue
		}
		b, _ := json.Marshal(sloPayload{SP: p.SP, NameID: p.NameID, NameIDFormat: p.NameIDFormat, SessionIndex: p.SessionIndex})
		out = append(out, &store.OutboxEvent{ID: outbox.NewEventID(), Key: outbox.Key(SLOChannel, sp.Settings.ID, sess.Subject),
			Type: SLOType, Channel: SLOChannel, ClientID: sp.Settings.ID, Subject: sess.Subject, Payload: b})
	}
	return out
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
	HTTP   *outbox.Sender
	Now    func() time.Time
}

// Deliver sends the event's LogoutRequest.
func (d *BackChannelSender) Deliver(ctx context.Context, e *store.OutboxEvent) error {
	var p sloPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return outbox.Permanent("decode event: %v", err)
	}
	sp, err := d.Registry.ByEntityID(ctx, p.SP)
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return outbox.Permanent("service provider %s is no longer registered", p.SP)
		}
		return err
	}
	dest := soapSLO(sp)
	if dest == "" {
		return outbox.Permanent("service provider %s no longer has a SOAP single logout service", sp.Settings.ID)
	}
	key, _, err := d.Keys.Signing()
	if err != nil {
		return err
	}
	body, id, err := d.request(key.private, key.cert.Raw, sp, &p)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("SOAPAction", "http://www.oasis-open.org/committees/security")
	resp, rb, err := d.HTTP.Do(ctx, http.MethodPost, dest, h, body)
	if err != nil {
		return err
	}
	if err := outbox.Status("saml back-channel logout", resp, rb); err != nil {
		return err
	}
	return logoutStatus(rb, id)
}

// request is the signed SOAP LogoutRequest naming p at sp, and its id.
func (d *BackChannelSender) request(key *rsa.PrivateKey, cert []byte, sp *SP, p *sloPayload) ([]byte, string, error) {
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", err
	}
	now := d.Now().UTC()
	entityID := strings.TrimSuffix(d.Issuer, "/") + PathMetadata
	nameID := &crewjam.NameID{Format: p.NameIDFormat, Value: p.NameID}
	if p.NameIDFormat == string(crewjam.PersistentNameIDFormat) {
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
	sc := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{cert}, PrivateKey: key}))
	sc.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := sc.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, "", err
	}
	signed, err := sc.SignEnveloped(lr.Element())
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

// logoutStatus reads the SP's SOAP answer: nil for a LogoutResponse to id with the status
// Success; a permanent error for Requester (the SP refuses the request as such); else an error
// to retry (a SOAP fault, Responder, PartialLogout, something unreadable).
func logoutStatus(body []byte, id string) error {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		return fmt.Errorf("saml back-channel logout: unreadable answer: %w", err)
	}
	resp := doc.FindElement("./Envelope/Body/LogoutResponse")
	if resp == nil {
		return errors.New("saml back-channel logout: the answer holds no LogoutResponse")
	}
	if got := resp.SelectAttrValue("InResponseTo", ""); got != id {
		return outbox.Permanent("saml back-channel logout: LogoutResponse to %q, want %q", got, id)
	}
	code := resp.FindElement("./Status/StatusCode")
	status := ""
	if code != nil {
		status = code.SelectAttrValue("Value", "")
	}
	switch status {
	case crewjam.StatusSuccess:
		return nil
	case crewjam.StatusRequester:
		return outbox.Permanent("saml back-channel logout: the service provider answered %s", status)
	}
	return fmt.Errorf("saml back-channel logout: the service provider answered %q", status)
}
