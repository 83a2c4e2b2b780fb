package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	"github.com/labstack/echo/v4"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/sso"
)

// Front-channel single logout (SAML profiles 4.4.3.2-4.4.3.4, 4.4.4.1): when a sign-out goes
// through the browser, each SP of the ended session that lists only browser single logout
// services (HTTP-Redirect or HTTP-POST; SOAP SPs are told on the back channel) is visited in
// turn, at the top level: the browser takes a signed LogoutRequest to the SP and comes back with
// its LogoutResponse, RelayState naming the chain, and goes on to the next SP, then to where the
// sign-out was going. Frames cannot do this: an SP's session cookie in a frame of the bridge is a
// third-party cookie, which browsers do not send.
//
// The chain is a state machine: its steps, position and the id of the LogoutRequest waiting for
// an answer are sealed in a cookie of this browser (HttpOnly, SameSite=Lax, the session cookie's
// Secure/__Host- rules), and each step is left once, a compare-and-set in the store
// (UseSAMLMessageID of the chain's id and the step). A LogoutResponse moves the chain on only
// when it is the signed answer of that step's SP to that step's request; a replayed, out-of-order
// or forged one moves nothing. An SP that does not answer cannot trap the member: every step's
// page has a link that goes on without it, and a member who comes back to the bridge (the back
// button) without an answer gets a page that offers to go on (and does so by itself after a
// while) or to try the SP again.
const (
	// PathSLONext is the chain's next step.
	PathSLONext = "/saml/slo/next"
	// chainPurpose seals the chain's cookie.
	chainPurpose = "ssobridge/saml-logout-chain/v1"
	// chainLifetime bounds a chain: after it, the cookie is gone and the next step goes to the
	// signed-out page.
	chainLifetime = 10 * time.Minute
	// chainWait is how long the page of an unanswered step waits before it goes on by itself.
	chainWait = 15 * time.Second
	// maxChainSteps bounds the SPs visited in one chain (the cookie's size); the others are left
	// to their own sessions' ends (logged).
	maxChainSteps = 12
	// doneTarget is where a chain without a destination ends (logout.PathDone).
	doneTarget = "/logout/done"
)

// Sealer seals and opens values (identity.Sealer).
type Sealer interface {
	Seal(purpose string, v any) (string, error)
	Unseal(purpose, raw string, v any) error
}

// chainStep is an SP to visit: the participant's NameID and SessionIndex.
type chainStep struct {
	SP           string `json:"sp"`
	NameID       string `json:"n"`
	NameIDFormat string `json:"f,omitempty"`
	SessionIndex string `json:"x,omitempty"`
}

// chain is the state of one front-channel logout, sealed in the browser's cookie.
type chain struct {
	ID    string      `json:"i"`
	Steps []chainStep `json:"s"`
	Pos   int         `json:"p"`
	// Req is the id of the LogoutRequest sent for Steps[Pos] ("" before it is sent).
	Req  string `json:"q,omitempty"`
	Next string `json:"t,omitempty"`
	// Answer, when set, is sent at the end instead of going to Next: the LogoutResponse to the
	// SP whose own LogoutRequest started the sign-out.
	Answer *chainAnswer `json:"a,omitempty"`
	Exp    time.Time    `json:"e"`
	// Subject is the ended session's member (for the record of an SP that did not confirm).
	Subject string `json:"u,omitempty"`
}

// chainAnswer is what the LogoutResponse to an SP's LogoutRequest is made from.
type chainAnswer struct {
	SP         string           `json:"sp"`
	ID         string           `json:"id"`
	RelayState string           `json:"r,omitempty"`
	Status     string           `json:"st"`
	Endpoint   crewjam.Endpoint `json:"ep"`
	// Partial records that an SP of the chain did not confirm its logout (skipped, answered
	// with another status than Success, or gone from the registry): a Success answer then
	// carries the second-level status PartialLogout (SAML core 3.7.3.2).
	Partial bool `json:"pl,omitempty"`
}

// statusPartialLogout is SAML core 3.2.2.2's second-level status of a logout that did not reach
// every session participant.
const statusPartialLogout = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"

// partial records in ch, before it is saved, that the SP of its current step did not confirm
// its logout (chainAnswer.Partial).
func (ch *chain) partial() {
	if ch.Answer != nil {
		ch.Answer.Partial = true
	}
}

// maxAnswerRelayState bounds the RelayState kept for the answer (the bindings ask SPs for at
// most 80 bytes); an SP that sends more is answered at once, before the chain.
const maxAnswerRelayState = 512

// chainCookie is the chain cookie's name: __Host- prefixed with an https issuer.
func (l *Logouts) chainCookie() string {
	if l.Secure {
		return "__Host-ssobridge-slo"
	}
	return "ssobridge-slo"
}

// browserSLO is the SP's browser single logout service: HTTP-Redirect preferred, else HTTP-POST
// (nil when it has neither, or has a SOAP one, through which it is told instead).
func browserSLO(sp *SP) *crewjam.Endpoint {
	if soapSLO(sp) != "" {
		return nil
	}
	var post *crewjam.Endpoint
	for _, d := range sp.Metadata.SPSSODescriptors {
		for _, ep := range d.SingleLogoutServices {
			if ep.Location == "" {
				continue
			}
			switch ep.Binding {
			case crewjam.HTTPRedirectBinding:
				ep := ep
				return &ep
			case crewjam.HTTPPostBinding:
				if post == nil {
					ep := ep
					post = &ep
				}
			}
		}
	}
	return post
}

// insecureBrowserSLO says why the SP's browser single logout service is not visited: it is
// plain http on another host than this machine (or not an absolute URL), which only an SP
// refused for sign-ins can have (registered before the rule: Registry.ForLogout), and the SP's
// allow_insecure_soap_slo does not allow it. The LogoutRequest the browser takes there names
// the member (NameID) and the session (SessionIndex) in the clear, as the SOAP channel would,
// which refuses plain http without that setting too (config.CheckSOAPSLOURL). Nil: visit it.
func insecureBrowserSLO(sp *SP) error {
	ep := browserSLO(sp)
	if ep == nil || sp.Settings.AllowInsecureSOAPSLO {
		return nil
	}
	if err := config.CheckSAMLEndpoint(ep.Location); err != nil {
		return fmt.Errorf("its browser single logout service %q %w; allow_insecure_soap_slo allows it", ep.Location, err)
	}
	return nil
}

// untoldAudit is the audit event of an SP that a sign-out through the browser did not tell
// (insecureBrowserSLO), the back channel's name for an SP left untold.
const untoldAudit = "logout.untold"

// untold logs and audits that the browser sign-out of subject does not visit sp (why).
func (l *Logouts) untold(ctx context.Context, subject string, sp *SP, why error) {
	l.untoldWhat(ctx, subject, sp, "its LogoutRequest", why)
}

// untoldWhat logs and audits that the browser sign-out of subject does not send sp what (its
// LogoutRequest, or the LogoutResponse to its own: answerUntold), why.
func (l *Logouts) untoldWhat(ctx context.Context, subject string, sp *SP, what string, why error) {
	l.Logger.WarnContext(ctx, "saml front-channel logout: service provider not visited", "sp", sp.Settings.ID, "entity_id", sp.EntityID,
		"not_sent", what, "reason", why)
	if l.Audit != nil {
		l.Audit(ctx, &store.AuditEvent{Event: untoldAudit, Subject: subject, ClientID: sp.Settings.ID,
			Detail: "saml service provider " + sp.EntityID + " not sent " + what + " through the browser: " + why.Error()})
	}
}

// Chain is the SAML part of every sign-out through the browser (logout.Handler): it takes the
// ended session's SPs from the store and, when some are to be visited, starts the chain in this
// browser and returns where it starts; the chain ends at next ("" the signed-out page).
// Otherwise it returns next.
func (l *Logouts) Chain(c echo.Context, sess *sso.Session, next string) string {
	ctx := c.Request().Context()
	ps, err := l.Store.TakeSAMLParticipants(ctx, sess.ID)
	if err != nil {
		l.Logger.ErrorContext(ctx, "saml participants of an ended session", "err", err)
		return next
	}
	return l.startChain(c, ps, sess.Subject, next, nil, false)
}

// startChain starts the front-channel chain through the browser SPs among ps, ending at next
// (or with answer, when set) and returns where it starts; next when there is no SP to visit,
// unless answerAlone: then a chain with an answer and no SP to visit is started too, which only
// sends the answer, after whatever the caller puts before PathSLONext (the AMS website's
// sign-out).
func (l *Logouts) startChain(c echo.Context, ps []*store.SAMLParticipant, subject, next string, answer *chainAnswer, answerAlone bool) string {
	ctx := c.Request().Context()
	var steps []chainStep
	for _, p := range ps {
		// An SP refused for sign-ins since is still visited (Registry.ForLogout).
		sp, err := l.Registry.ForLogout(ctx, p.SP)
		if err != nil || browserSLO(sp) == nil {
			continue // gone, told on the back channel, or no single logout service
		}
		if err := insecureBrowserSLO(sp); err != nil {
			l.untold(ctx, subject, sp, err)
			if answer != nil {
				answer.Partial = true
			}
			continue
		}
		if len(steps) == maxChainSteps {
			l.Logger.WarnContext(ctx, "saml front-channel logout: too many service providers in one session; not visited", "sp", sp.Settings.ID)
			continue
		}
		steps = append(steps, chainStep{SP: p.SP, NameID: p.NameID, NameIDFormat: p.NameIDFormat, SessionIndex: p.SessionIndex})
	}
	if (len(steps) == 0 && (answer == nil || !answerAlone)) || l.Sealer == nil {
		return next
	}
	if next == "" {
		next = doneTarget
	}
	ch := &chain{ID: sso.RandomToken()[:32], Steps: steps, Next: next, Answer: answer, Exp: l.Now().Add(chainLifetime), Subject: subject}
	if err := l.saveChain(c, ch); err != nil {
		l.Logger.ErrorContext(ctx, "saml front-channel logout: chain cookie", "err", err)
		return next
	}
	return PathSLONext
}

// Resume is where this browser's unfinished chain goes on ("" when there is none).
func (l *Logouts) Resume(c echo.Context) string {
	if ch := l.loadChain(c); ch != nil && ch.Pos < len(ch.Steps) {
		return PathSLONext
	}
	return ""
}

func (l *Logouts) saveChain(c echo.Context, ch *chain) error {
	v, err := l.Sealer.Seal(chainPurpose, ch)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: l.chainCookie(), Value: v, Path: "/", MaxAge: int(time.Until(ch.Exp).Seconds()) + 1,
		HttpOnly: true, Secure: l.Secure, SameSite: http.SameSiteLaxMode})
	return nil
}

func (l *Logouts) clearChain(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: l.chainCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: l.Secure, SameSite: http.SameSiteLaxMode})
}

// loadChain is this browser's chain (nil when none, or expired).
func (l *Logouts) loadChain(c echo.Context) *chain {
	ck, err := c.Cookie(l.chainCookie())
	if err != nil || ck.Value == "" || l.Sealer == nil {
		return nil
	}
	var ch chain
	if err := l.Sealer.Unseal(chainPurpose, ck.Value, &ch); err != nil || l.Now().After(ch.Exp) || ch.Pos < 0 || ch.Pos > len(ch.Steps) {
		return nil
	}
	return &ch
}

// leave moves ch past its current step, once (a compare-and-set in the store): false when the
// step was left already (a replayed or racing answer), and ch is then unchanged.
func (l *Logouts) leave(c echo.Context, ch *chain) (bool, error) {
	key := fmt.Sprintf("slo-chain %s %d", ch.ID, ch.Pos)
	if err := l.Store.UseSAMLMessageID(c.Request().Context(), key, ch.Exp); errors.Is(err, sso.ErrConflict) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	ch.Pos++
	ch.Req = ""
	return true, l.saveChain(c, ch)
}

// unconfirmed records that the SP (entity id) of a browser single logout did not confirm it:
// an event of the SAML logout channel that its sender turns into a dead letter at once (nothing
// can send it again without the member's browser), so that the outbox view and ssobridge
// shadow list it with the reason, as they list the SOAP logouts that failed. A store error is
// logged: the member's sign-out goes on.
func (l *Logouts) unconfirmed(ctx context.Context, ch *chain, entityID, reason string) {
	id := entityID
	if sp, err := l.Registry.ForLogout(ctx, entityID); err == nil {
		id = sp.Settings.ID
	}
	b, _ := json.Marshal(unconfirmedPayload{SP: entityID, Reason: reason})
	ev := &store.OutboxEvent{ID: outbox.NewEventID(), Key: outbox.Key(SLOChannel, id, ch.Subject), Type: SLOUnconfirmedType,
		Channel: SLOChannel, ClientID: id, Subject: ch.Subject, Payload: b}
	if err := l.Store.Enqueue(ctx, ev); err != nil {
		l.Logger.ErrorContext(ctx, "saml front-channel logout: record the unconfirmed logout", "sp", id, "err", err)
	}
}

// unconfirmedPayload is the stored payload of an unconfirmed browser single logout.
type unconfirmedPayload struct {
	SP     string `json:"sp"`
	Reason string `json:"reason"`
}

// chainPage is the data of the saml_logout page.
type chainPage struct {
	web.Page
	SPName                 string
	Waiting, Form          bool
	URL, Value, RelayState string
	Skip, Retry            string
}

// chainNext is the chain's next step: the SP of the current step is sent its LogoutRequest
// (once; a member who comes back without its answer is offered to go on or try again), or, past
// the last step, the browser goes on to where the sign-out was going.
//
//	?skip=N  leaves step N unanswered (when it is the current step and its request was sent);
//	?retry=N sends step N's SP a new LogoutRequest.
func (h *Handler) chainNext(c echo.Context) error {
	l := h.Logouts
	ch := l.loadChain(c)
	c.Response().Header().Set("Cache-Control", "no-store")
	if ch == nil {
		return c.Redirect(http.StatusSeeOther, doneTarget)
	}
	ctx := c.Request().Context()
	step := func(q string) bool { n, err := strconv.Atoi(c.QueryParam(q)); return err == nil && n == ch.Pos }
	if step("skip") && ch.Pos < len(ch.Steps) && ch.Req != "" {
		sp := ch.Steps[ch.Pos].SP
		// Saved with the step left, whichever cookie leaves it: the member went on without
		// this SP's answer in this browser.
		ch.partial()
		moved, err := l.leave(c, ch)
		if err != nil {
			return err
		}
		if moved {
			h.Logger.WarnContext(ctx, "saml front-channel logout: not confirmed; going on", "sp", sp)
			l.unconfirmed(ctx, ch, sp, "no LogoutResponse the bridge accepts came back: the member went on without it")
		} else {
			// Left already (the link followed twice, or the SP's answer came meanwhile) with
			// this browser's earlier cookie: this cookie goes on past it too, as the member asks.
			ch.Pos++
			ch.Req = ""
			if err := l.saveChain(c, ch); err != nil {
				return err
			}
		}
		return c.Redirect(http.StatusSeeOther, PathSLONext)
	}
	if ch.Pos >= len(ch.Steps) {
		l.clearChain(c)
		if ch.Answer != nil {
			return h.sendAnswer(c, ch.Answer, ch.Subject)
		}
		return c.Redirect(http.StatusSeeOther, ch.Next)
	}
	cur := ch.Steps[ch.Pos]
	sp, err := h.Registry.ForLogout(ctx, cur.SP)
	var ep *crewjam.Endpoint
	if err == nil {
		ep = browserSLO(sp)
	}
	if ep == nil {
		// Gone (or changed) since the chain started: nothing to visit, and its session there,
		// if any, is not ended.
		ch.partial()
		if _, err := l.leave(c, ch); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, PathSLONext)
	}
	if why := insecureBrowserSLO(sp); why != nil {
		// The SP's settings as they are now, not as they were when the chain started: an
		// allow_insecure_soap_slo turned off since (an admin PATCH, a configuration reload)
		// takes it out of the chain at this hop, as startChain would have. Left untold
		// (logged, audited logout.untold), the step left unconfirmed.
		l.untold(ctx, ch.Subject, sp, why)
		ch.partial()
		if _, err := l.leave(c, ch); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, PathSLONext)
	}
	d := chainPage{Page: h.Pages.Base("Signing you out"), SPName: sp.Name(),
		Skip: PathSLONext + "?skip=" + strconv.Itoa(ch.Pos), Retry: PathSLONext + "?retry=" + strconv.Itoa(ch.Pos)}
	if ch.Req != "" && !step("retry") {
		// Sent, and the browser is back without the SP's answer.
		d.Waiting = true
		c.Response().Header().Set("Refresh", strconv.Itoa(int(chainWait.Seconds()))+"; url="+d.Skip)
		return h.Pages.Render(c, http.StatusOK, "saml_logout", d)
	}
	key, _, err := l.Keys.Signing()
	if err != nil {
		return err
	}
	lr, err := l.logoutRequest(sp, ep.Location, &cur)
	if err != nil {
		return err
	}
	switch ep.Binding {
	case crewjam.HTTPRedirectBinding:
		d.URL, err = l.redirectURL(key.cryptoSigner(), lr, ch.ID)
	default:
		d.Form, d.URL, d.RelayState = true, ep.Location, ch.ID
		d.Value, err = l.postValue(key, lr)
	}
	if err != nil {
		return fmt.Errorf("saml front-channel logout request: %w", err)
	}
	ch.Req = lr.ID
	if err := l.saveChain(c, ch); err != nil {
		return err
	}
	return h.Pages.Render(c, http.StatusOK, "saml_logout", d)
}

// logoutRequest is a LogoutRequest naming step's participant at the SP's endpoint dest.
func (l *Logouts) logoutRequest(sp *SP, dest string, step *chainStep) (*crewjam.LogoutRequest, error) {
	id := make([]byte, 20)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	nameID := &crewjam.NameID{Format: step.NameIDFormat, Value: step.NameID}
	if step.NameIDFormat == string(crewjam.PersistentNameIDFormat) || step.NameIDFormat == string(crewjam.TransientNameIDFormat) {
		nameID.NameQualifier, nameID.SPNameQualifier = l.entityID(), sp.EntityID
	}
	now := l.Now().UTC()
	notAfter := now.Add(crewjam.MaxIssueDelay)
	lr := &crewjam.LogoutRequest{ID: "id-" + hex.EncodeToString(id), Version: "2.0", IssueInstant: now, NotOnOrAfter: &notAfter,
		Destination: dest, Issuer: &crewjam.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: l.entityID()}, NameID: nameID}
	if step.SessionIndex != "" {
		lr.SessionIndex = &crewjam.SessionIndex{Value: step.SessionIndex}
	}
	return lr, nil
}

// redirectURL is lr with the HTTP-Redirect binding (SAML bindings 3.4.4.1): deflated, with the
// RelayState, signed over the query string with RSA-SHA256.
func (l *Logouts) redirectURL(key crypto.Signer, lr *crewjam.LogoutRequest, relayState string) (string, error) {
	deflated, err := lr.Deflate()
	if err != nil {
		return "", err
	}
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflated)) +
		"&RelayState=" + url.QueryEscape(relayState) + "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
	sum := sha256.Sum256([]byte(q))
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(lr.Destination, "?") {
		sep = "&"
	}
	return lr.Destination + sep + q + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), nil
}

// postValue is lr with the HTTP-POST binding: an enveloped signature, base64.
func (l *Logouts) postValue(key *signingKey, lr *crewjam.LogoutRequest) (string, error) {
	signed, err := signRequest(key.signer, lr.Element())
	if err != nil {
		return "", err
	}
	doc := etree.NewDocument()
	doc.SetRoot(signed)
	b, err := doc.WriteToBytes()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// chainResponse takes an SP's LogoutResponse (HTTP-Redirect or HTTP-POST binding) to the
// chain's current step: the chain moves on when it is that SP's signed answer to that request;
// anything else moves nothing (the next step's page then offers to go on).
func (h *Handler) chainResponse(c echo.Context) error {
	l := h.Logouts
	ctx := c.Request().Context()
	c.Response().Header().Set("Cache-Control", "no-store")
	ch := l.loadChain(c)
	if ch == nil {
		h.Logger.WarnContext(ctx, "saml logout response without a logout in progress")
		return c.Redirect(http.StatusSeeOther, doneTarget)
	}
	if ch.Pos >= len(ch.Steps) || ch.Req == "" {
		h.Logger.WarnContext(ctx, "saml logout response refused", "reason", "no request is waiting for an answer")
		return c.Redirect(http.StatusSeeOther, PathSLONext)
	}
	cur := ch.Steps[ch.Pos]
	sp, err := h.Registry.ForLogout(ctx, cur.SP)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, PathSLONext)
	}
	resp, err := h.readLogoutResponse(c.Request(), sp, ch)
	if err != nil {
		h.Logger.WarnContext(ctx, "saml logout response refused", "sp", sp.Settings.ID, "err", err)
		h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "saml.logout_response_refused", ClientID: sp.Settings.ID, IP: c.RealIP(), Detail: refusalOf(err)})
		return c.Redirect(http.StatusSeeOther, PathSLONext)
	}
	status := resp.Status.StatusCode.Value
	confirmed := status == crewjam.StatusSuccess
	if !confirmed {
		ch.partial()
	}
	moved, err := l.leave(c, ch)
	if err != nil {
		return err
	}
	if !moved {
		h.Logger.WarnContext(ctx, "saml logout response refused", "sp", sp.Settings.ID, "reason", "replayed")
		return c.Redirect(http.StatusSeeOther, PathSLONext)
	}
	if !confirmed {
		h.Logger.WarnContext(ctx, "saml front-channel logout: the service provider did not sign the member out", "sp", sp.Settings.ID, "status", status)
		l.unconfirmed(ctx, ch, sp.EntityID, "the LogoutResponse's status is "+status)
	} else {
		h.Logger.InfoContext(ctx, "saml front-channel logout", "sp", sp.Settings.ID)
	}
	return c.Redirect(http.StatusSeeOther, PathSLONext)
}

func refusalOf(err error) string {
	var re *responseError
	if errors.As(err, &re) {
		return re.reason
	}
	return "invalid response"
}

// responseError is a refused LogoutResponse, with a short reason for the audit log.
type responseError struct {
	reason string
	err    error
}

func (e *responseError) Error() string { return e.reason + ": " + e.err.Error() }

func refused(reason string, format string, args ...any) error {
	return &responseError{reason: reason, err: fmt.Errorf(format, args...)}
}

// maxLogoutResponse bounds an inflated LogoutResponse.
const maxLogoutResponse = 64 << 10

// readLogoutResponse checks the LogoutResponse r carries as the answer of sp to the chain's
// waiting request: signed by sp (a query-string signature with HTTP-Redirect, an enveloped one
// with HTTP-POST; SHA-1 refused) with a certificate of its metadata, issued by sp, InResponseTo
// the request, Destination this IdP's single logout service, recent, with the chain's
// RelayState.
func (h *Handler) readLogoutResponse(r *http.Request, sp *SP, ch *chain) (*crewjam.LogoutResponse, error) {
	var raw []byte
	var relayState string
	if r.Method == http.MethodGet {
		params, signed, err := rawQuery(r.URL.RawQuery)
		if err != nil {
			return nil, refused("malformed", "%v", err)
		}
		if err := verifyQuerySignature(sp, signed, params["SigAlg"], params["Signature"]); err != nil {
			return nil, refused("signature missing or invalid", "%v", err)
		}
		b, err := base64.StdEncoding.DecodeString(params["SAMLResponse"])
		if err != nil {
			return nil, refused("malformed", "base64: %v", err)
		}
		if raw, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), maxLogoutResponse+1)); err != nil || len(raw) > maxLogoutResponse {
			return nil, refused("malformed", "inflate: %v", err)
		}
		relayState = params["RelayState"]
		var resp crewjam.LogoutResponse
		if err := xml.Unmarshal(raw, &resp); err != nil {
			return nil, refused("malformed", "%v", err)
		}
		return &resp, h.checkChainResponse(&resp, sp, ch, relayState)
	}
	b, err := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLResponse"))
	if err != nil {
		return nil, refused("malformed", "base64: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil || doc.Root() == nil {
		return nil, refused("malformed", "xml: %v", err)
	}
	root := doc.Root()
	if root.Tag != "LogoutResponse" || root.NamespaceURI() != samlProtocolNS {
		return nil, refused("malformed", "not a LogoutResponse")
	}
	signed, err := verifiedLogoutResponse(root, sp, true)
	if err != nil {
		return nil, refused("signature missing or invalid", "%v", err)
	}
	out := etree.NewDocument()
	out.SetRoot(signed)
	if raw, err = out.WriteToBytes(); err != nil {
		return nil, err
	}
	var resp crewjam.LogoutResponse
	if err := xml.Unmarshal(raw, &resp); err != nil {
		return nil, refused("malformed", "%v", err)
	}
	return &resp, h.checkChainResponse(&resp, sp, ch, r.PostForm.Get("RelayState"))
}

func (h *Handler) checkChainResponse(resp *crewjam.LogoutResponse, sp *SP, ch *chain, relayState string) error {
	now := h.Now()
	switch {
	case resp.Issuer == nil || resp.Issuer.Value != sp.EntityID:
		return refused("another issuer", "issued by %q, not %s", issuerOf(resp), sp.EntityID)
	case resp.InResponseTo != ch.Req:
		return refused("not the waiting request", "InResponseTo %q, not %s", resp.InResponseTo, ch.Req)
	case relayState != ch.ID:
		return refused("another relay state", "RelayState of another logout")
	case resp.Destination != strings.TrimSuffix(h.Issuer, "/")+PathSLO:
		return refused("wrong destination", "destination %q", resp.Destination)
	case resp.Version != "2.0":
		return refused("malformed", "version %q", resp.Version)
	case resp.IssueInstant.Add(crewjam.MaxIssueDelay).Before(now), resp.IssueInstant.Add(-crewjam.MaxClockSkew).After(now):
		return refused("outside its validity window", "issued at %s", resp.IssueInstant)
	}
	return nil
}

// rawQuery reads the HTTP-Redirect binding's parameters and the signed string (SAML bindings
// 3.4.4.1: SAMLResponse, RelayState when present and SigAlg, as they were URL-encoded).
func rawQuery(q string) (map[string]string, string, error) {
	params, rawOf := map[string]string{}, map[string]string{}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "SAMLResponse", "RelayState", "SigAlg", "Signature":
		default:
			continue
		}
		if _, dup := rawOf[k]; dup {
			return nil, "", fmt.Errorf("repeated %s", k)
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %v", k, err)
		}
		params[k], rawOf[k] = dv, v
	}
	if params["SAMLResponse"] == "" {
		return nil, "", errors.New("no SAMLResponse")
	}
	signed := "SAMLResponse=" + rawOf["SAMLResponse"]
	if _, ok := rawOf["RelayState"]; ok {
		signed += "&RelayState=" + rawOf["RelayState"]
	}
	signed += "&SigAlg=" + rawOf["SigAlg"]
	return params, signed, nil
}

// verifyQuerySignature checks an HTTP-Redirect signature with the SP's signing certificates
// (RSA with SHA-256 or SHA-512).
func verifyQuerySignature(sp *SP, signed, sigAlg, signature string) error {
	var hash crypto.Hash
	var sum []byte
	switch sigAlg {
	case dsig.RSASHA256SignatureMethod:
		s := sha256.Sum256([]byte(signed))
		hash, sum = crypto.SHA256, s[:]
	case dsig.RSASHA512SignatureMethod:
		s := sha512.Sum512([]byte(signed))
		hash, sum = crypto.SHA512, s[:]
	case "":
		return errors.New("not signed")
	default:
		return fmt.Errorf("signature algorithm %q not accepted", sigAlg)
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) == 0 {
		return errors.New("no readable signature")
	}
	for _, data := range signingCerts(sp.Metadata) {
		cert, err := config.ParseSAMLCertificate(data)
		if err != nil {
			continue
		}
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pub, hash, sum, sig) == nil {
			return nil
		}
	}
	return errors.New("not signed with a certificate of the service provider")
}

// sendAnswer sends the LogoutResponse that ends a chain started by an SP's LogoutRequest (of
// subject's session).
func (h *Handler) sendAnswer(c echo.Context, a *chainAnswer, subject string) error {
	ctx := c.Request().Context()
	sp, err := h.Registry.ForLogout(ctx, a.SP)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, doneTarget)
	}
	if why := insecureAnswer(sp, &a.Endpoint); why != nil {
		// Checked again with the SP's settings as they are now (allow_insecure_soap_slo
		// turned off since the chain started): not sent, as the SP's own request would not
		// have been answered there (answerUntold); the member is told on PathSLOUntold.
		h.Logouts.untoldWhat(ctx, subject, sp, "its LogoutResponse (the answer to its own LogoutRequest)", why)
		return c.Redirect(http.StatusSeeOther, PathSLOUntold+"?sp="+url.QueryEscape(sp.Settings.ID))
	}
	idp, err := h.idp(ctx)
	if err != nil {
		return err
	}
	ep := a.Endpoint
	lreq := &crewjam.IdpLogoutRequest{IDP: idp, HTTPRequest: c.Request(), RelayState: a.RelayState,
		Request: crewjam.LogoutRequest{ID: a.ID}, ServiceProviderMetadata: sp.Metadata, SLOEndpoint: &ep, Now: h.Now()}
	resp := lreq.MakeLogoutResponse(a.Status)
	if a.Partial && a.Status == crewjam.StatusSuccess {
		resp.Status.StatusCode.StatusCode = &crewjam.StatusCode{Value: statusPartialLogout}
	}
	return h.writeResponse(c, lreq, resp, nil)
}
