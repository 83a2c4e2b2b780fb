package backchannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Channel is the outbox channel of back-channel logout events, Type their event type.
const (
	Channel = "backchannel"
	Type    = "logout.backchannel"
)

// Clients resolves client configurations (back-channel logout URIs, signing algorithms).
type Clients interface {
	Client(ctx context.Context, id string) (*sso.ClientConfig, error)
}

// payload is the stored payload of a logout event; the token is signed at delivery so that a
// retry carries a fresh one.
type payload struct {
	ClientID  string `json:"client_id"`
	Subject   string `json:"sub,omitempty"`
	SessionID string `json:"sid,omitempty"`
	// Unread marks an event queued without reading the app's registration (an end's last try:
	// build's blind): the Deliverer has nothing to send (outbox.ErrNothingToSend: the queue
	// records it skipped) when the app has no logout URI or is gone, where for an event queued
	// from a read registration that is a dead letter.
	Unread bool `json:"unread,omitempty"`
}

// Logouts builds back-channel logout events and ends sessions with them.
type Logouts struct {
	Store   store.Store
	Clients Clients
	// PublicSID turns a stored session id into the sid that logout tokens carry (nil: as is).
	PublicSID func(sessionID string) string
	// Wake tells the outbox that events were queued (nil: nothing to tell).
	Wake func()
	// Others, when set, adds the logout events of the session's SAML service providers (their
	// back-channel single logouts, saml.Logouts.BackChannel), queued with these. It is called
	// before the store's transaction with the entity ids of the SPs to prepare for, and reads
	// what their events need (their registrations); the SAMLEvents it returns builds them in
	// the transaction without reading anything.
	Others func(ctx context.Context, sps []string) SAMLEvents
	// Log says which app's logout could not be built (nil: not logged).
	Log *slog.Logger
	// Audit records each SAML SP an end left untold (AuditUntold; nil: logged only): one the
	// session signed into after the end's last reads, whose logout needs its registration.
	Audit func(ctx context.Context, e *store.AuditEvent)
}

// AuditUntold is the audit event of a SAML SP that an ended session (a sign-out, a
// deactivation) signed into while it ended, at every try (endAttempts), and that was not sent
// its back-channel logout: its event needs the SP's registration (its app id names the event
// and lets the SP's removal delete it), which was not read. The session is ended all the same;
// the operator sees the SP (Detail) and the member (Subject), and the metric of audit events
// counts them.
const AuditUntold = "logout.untold"

// SAMLEvents builds the logout events of an ended session's SAML participants ps without
// reading anything (it runs in the store's transaction that ends sess). unresolved are the
// entity ids of the participants it was not prepared for (Logouts.Others): the session signed
// into them after they were read.
type SAMLEvents = func(sess *sso.Session, ps []*store.SAMLParticipant) (events []*store.OutboxEvent, unresolved []string)

// prepared is what the logout events of a session's end are built from, read before the
// store's transaction ends it: the transaction reads the session's apps, and the events are
// built there from these without a read of the store (store.Outbox's EndSessionWithEvents).
type prepared struct {
	// bcl is, per client id read, whether the client has a backchannel_logout_uri (false: it
	// has none or is gone).
	bcl map[string]bool
	// unread are the clients whose read failed (the store busy, a timeout), with its error:
	// not in bcl, so a build finds them unprepared and the end reads them again (review s22
	// before, a passing failure was taken as "no logout URI" and the app never told).
	unread map[string]error
	// sps are the SAML SPs saml was prepared for; saml is nil without Others.
	sps  []string
	saml SAMLEvents
}

// prepare reads what the events of clients and of the SAML SPs sps need into p, beyond what
// it has.
func (l *Logouts) prepare(ctx context.Context, p *prepared, clients, sps []string) {
	if p.bcl == nil {
		p.bcl = make(map[string]bool, len(clients))
		p.unread = make(map[string]error)
	}
	for _, id := range clients {
		if _, done := p.bcl[id]; done {
			continue
		}
		c, err := l.Clients.Client(ctx, id)
		switch {
		case err == nil:
			p.bcl[id] = c.BackchannelLogoutURI != ""
		case errors.Is(err, sso.ErrNotFound):
			p.bcl[id] = false
		default:
			p.unread[id] = err
			continue
		}
		delete(p.unread, id)
	}
	if l.Others == nil {
		return
	}
	// Read again when a build found SPs unresolved (sps): those the session signed into since,
	// and those whose read failed, which p.sps may hold already.
	grown := p.saml == nil || len(sps) > 0
	for _, sp := range sps {
		if !slices.Contains(p.sps, sp) {
			p.sps = append(p.sps, sp)
		}
	}
	if grown {
		p.saml = l.Others(ctx, p.sps)
	}
}

// unprepared is what a build found the session signed into that prepare had not read:
// clients and sps got no event. blind are the clients a last build queued an event for all the
// same, unread (not counted as missed): their read failed, or the session signed into them
// after the last reads.
type unprepared struct{ clients, sps, blind []string }

// build returns the logout events of the ended session e from p, reading nothing: one per
// client that registered a backchannel_logout_uri, and the SAML SPs' (Others). What p was not
// prepared for gets no event and comes back in miss; but with last (the end's last try) a
// client not read (its read failed, or the session signed into it since) gets its event
// anyway, in miss.blind: the Deliverer reads the registration again and drops the event of an
// app without a logout URI. A SAML SP cannot be so queued (its event needs its registration):
// it comes back in miss.sps, and the end audits it (untold).
func (l *Logouts) build(p *prepared, e *store.EndedSession, last bool) (out []*store.OutboxEvent, miss unprepared) {
	sess := e.Session
	sid := l.sid(sess)
	for _, id := range sess.Clients {
		has, ok := p.bcl[id]
		switch {
		case !ok && last:
			ev := event(id, sess.Subject, sid)
			ev.Payload, _ = json.Marshal(payload{ClientID: id, Subject: sess.Subject, SessionID: sid, Unread: true})
			out = append(out, ev)
			miss.blind = append(miss.blind, id)
		case !ok:
			miss.clients = append(miss.clients, id)
		case has:
			out = append(out, event(id, sess.Subject, sid))
		}
	}
	if p.saml != nil {
		evs, unresolved := p.saml(sess, e.SAMLParticipants)
		out, miss.sps = append(out, evs...), unresolved
	}
	return out, miss
}

// participants are the SAML participants of session id, read for Others (none without it).
func (l *Logouts) participants(ctx context.Context, id string) []*store.SAMLParticipant {
	if l.Others == nil {
		return nil
	}
	ps, err := l.Store.SAMLParticipants(ctx, id)
	if err != nil && l.Log != nil {
		l.Log.ErrorContext(ctx, "saml participants of an ending session", "err", err)
	}
	return ps
}

func entityIDs(ps []*store.SAMLParticipant) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.SP)
	}
	return out
}

// logBlind says which apps' logouts were queued without their registration (its read failed
// at every try, or the session signed into the app after the last reads), by id, with the last
// read's error.
func (l *Logouts) logBlind(ctx context.Context, p *prepared, blind []string) {
	if l.Log == nil || len(blind) == 0 {
		return
	}
	errs := make([]string, 0, len(blind))
	for _, id := range blind {
		if err, ok := p.unread[id]; ok {
			errs = append(errs, err.Error())
		} else {
			errs = append(errs, "not read: signed into after the last reads")
		}
	}
	l.Log.WarnContext(ctx, "back-channel logout queued without reading the app: its registration could not be read, the delivery reads it again",
		"clients", blind, "errs", errs)
}

// untold logs and audits (AuditUntold) the SAML SPs sps that subject's ended sessions signed
// into after the end's last reads, whose logouts were not queued.
func (l *Logouts) untold(ctx context.Context, subject string, sps []string) {
	if len(sps) == 0 {
		return
	}
	if l.Log != nil {
		l.Log.WarnContext(ctx, "back-channel logout not queued: the session kept signing into SAML service providers while it ended",
			"saml_sps", sps)
	}
	if l.Audit == nil {
		return
	}
	for _, sp := range sps {
		l.Audit(ctx, &store.AuditEvent{Event: AuditUntold, Subject: subject,
			Detail: "saml service provider " + sp + " signed into while the session ended: its back-channel logout was not queued"})
	}
}

// sid is the sid logout tokens carry for sess ("" for none: sub only).
func (l *Logouts) sid(sess *sso.Session) string {
	if sess == nil {
		return ""
	}
	if l.PublicSID != nil {
		return l.PublicSID(sess.ID)
	}
	return sess.ID
}

// SubjectEvent is a sub-only logout event for a client (every session of the member there);
// nil when the client has no backchannel_logout_uri or is gone.
func (l *Logouts) SubjectEvent(ctx context.Context, clientID, subject string) (*store.OutboxEvent, error) {
	return l.clientEvent(ctx, clientID, subject, "")
}

// clientEvent is the logout event of one client naming sid ("": sub only); nil when the client
// has no backchannel_logout_uri or is gone.
func (l *Logouts) clientEvent(ctx context.Context, clientID, subject, sid string) (*store.OutboxEvent, error) {
	c, err := l.Clients.Client(ctx, clientID)
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if c.BackchannelLogoutURI == "" {
		return nil, nil
	}
	return event(clientID, subject, sid), nil
}

// AppLogout tells one client that the member signed out of it alone (the account page): a
// logout event naming sess's sid, or, with sess nil, every session of subject there (sub only:
// a withdrawn consent). Nothing when the client has no backchannel_logout_uri or is gone.
func (l *Logouts) AppLogout(ctx context.Context, clientID, subject string, sess *sso.Session) error {
	ev, err := l.clientEvent(ctx, clientID, subject, l.sid(sess))
	if err != nil || ev == nil {
		return err
	}
	if err := l.Store.Enqueue(ctx, ev); err != nil {
		return fmt.Errorf("queue the back-channel logout of %s: %w", clientID, err)
	}
	if l.Wake != nil {
		l.Wake()
	}
	return nil
}

// endAttempts bounds how many times EndSession (Deactivate) prepares for apps the session
// (the member's sessions) signed into while it was being ended (each time another sign-in
// landed between its reads and its transaction).
const endAttempts = 4

// errUnprepared rolls back an end whose session signed into an app that EndSession had not
// prepared the logout of: it prepares it, and ends the session again.
var errUnprepared = errors.New("backchannel: the session signed into an app meanwhile")

// EndSession ends a session and queues its back-channel logouts in one transaction (store.Outbox's
// EndSessionWithEvents), built there from the session's apps (clients, SAML participants) as
// that transaction reads them, not as the caller read sess: an app the session signed into
// meanwhile (another tab) is logged out too (review s20 X20-1). What the events need of each
// app (its registration) is read before; an app the transaction finds that was not read
// rolls it back, is read, and the session is ended again. sess is then updated to the session
// as it ended (its Clients, Ended), so that what the caller shows next (the front-channel
// frames) names every app of it. An app whose registration read failed (the store busy) is
// unprepared too, and read again at the next try. At the last try (endAttempts) an OIDC app
// still unread (its read failed, or the session signed into it again meanwhile) has its event
// queued anyway and the log names it: the Deliverer reads the registration again. A SAML SP
// still unread then is left untold, audited (AuditUntold) and logged: its event needs its
// registration. A session ended already is left as it is: whoever ended it queued its logouts.
func (l *Logouts) EndSession(ctx context.Context, sess *sso.Session) error {
	var p prepared
	l.prepare(ctx, &p, sess.Clients, entityIDs(l.participants(ctx, sess.ID)))
	for attempt := 1; ; attempt++ {
		var (
			queued int
			miss   unprepared
		)
		ended, err := l.Store.EndSessionWithEvents(ctx, sess.ID, func(e *store.EndedSession) ([]*store.OutboxEvent, error) {
			evs, m := l.build(&p, e, attempt == endAttempts)
			queued, miss = len(evs), m
			if (len(m.clients) > 0 || len(m.sps) > 0) && attempt < endAttempts {
				return nil, errUnprepared
			}
			return evs, nil
		})
		if errors.Is(err, errUnprepared) {
			l.prepare(ctx, &p, miss.clients, miss.sps)
			continue
		}
		if err != nil {
			return err
		}
		if ended == nil {
			return nil
		}
		l.untold(ctx, ended.Session.Subject, miss.sps)
		l.logBlind(ctx, &p, miss.blind)
		sess.Clients, sess.Ended = ended.Session.Clients, true
		if queued > 0 && l.Wake != nil {
			l.Wake()
		}
		return nil
	}
}

// missed says whether a build found apps that were not prepared.
func (m unprepared) missed() bool { return len(m.clients) > 0 || len(m.sps) > 0 }

// add adds o's apps to m's, each once.
func (m *unprepared) add(o unprepared) {
	for _, c := range o.clients {
		if !slices.Contains(m.clients, c) {
			m.clients = append(m.clients, c)
		}
	}
	for _, sp := range o.sps {
		if !slices.Contains(m.sps, sp) {
			m.sps = append(m.sps, sp)
		}
	}
	for _, c := range o.blind {
		if !slices.Contains(m.blind, c) {
			m.blind = append(m.blind, c)
		}
	}
}

// prepareSubject reads into p what the logout events of subject's live sessions need (their
// clients' registrations, their SAML SPs'), before the transaction that ends them. A failure
// to list them is logged and prepares nothing: the transaction then finds every app
// unprepared, and Deactivate prepares them and applies it again.
func (l *Logouts) prepareSubject(ctx context.Context, p *prepared, subject string) {
	live, err := l.Store.Sessions(ctx, subject)
	if err != nil {
		if l.Log != nil {
			l.Log.WarnContext(ctx, "sessions of a member being deactivated not read before", "err", err)
		}
		return
	}
	var clients, sps []string
	for _, sess := range live {
		clients = append(clients, sess.Clients...)
		sps = append(sps, entityIDs(l.participants(ctx, sess.ID))...)
	}
	l.prepare(ctx, p, clients, sps)
}

// Deactivate applies d through deactivate (a store's Deactivate, or ResetFactorsAndDeactivate:
// one transaction) with the back-channel logouts of the sessions it ends (d.EndSessions),
// queued in that transaction, and wakes the outbox when it queued some. It sets d.Logout (what
// the caller set is replaced) to build them as EndSession does, from the sessions as that
// transaction reads them once ended (their clients and SAML participants: an app another tab
// signed into meanwhile is logged out too), reading nothing in it: a read of the store's pool
// there waits for a connection the transaction may hold the last of (review s21 X3-3). What
// each app's event needs is read before, from the member's live sessions; an app the
// transaction finds that was not read rolls the whole deactivation back, is read, and d is
// applied again (at most endAttempts times; the last one ends the sessions anyway). An app
// whose registration read failed is unprepared alike. The last try queues the events of the
// OIDC apps still unread anyway, and audits and logs the SAML SPs it could not tell, as
// EndSession's. It returns what deactivate returns.
func (l *Logouts) Deactivate(ctx context.Context, d *store.Deactivation, deactivate func(context.Context, *store.Deactivation) ([]*sso.Session, error)) ([]*sso.Session, error) {
	var p prepared
	if d.EndSessions {
		l.prepareSubject(ctx, &p, d.Subject)
	}
	for attempt := 1; ; attempt++ {
		var (
			queued int
			miss   unprepared
		)
		d.Logout = func(ended []*store.EndedSession) ([]*store.OutboxEvent, error) {
			var out []*store.OutboxEvent
			queued, miss = 0, unprepared{} // a transaction run again starts over
			for _, e := range ended {
				evs, m := l.build(&p, e, attempt == endAttempts)
				out = append(out, evs...)
				miss.add(m)
			}
			if miss.missed() && attempt < endAttempts {
				return nil, errUnprepared
			}
			queued = len(out)
			return out, nil
		}
		ended, err := deactivate(ctx, d)
		if errors.Is(err, errUnprepared) {
			l.prepare(ctx, &p, miss.clients, miss.sps)
			continue
		}
		if err != nil {
			return nil, err
		}
		l.untold(ctx, d.Subject, miss.sps)
		l.logBlind(ctx, &p, miss.blind)
		if queued > 0 && l.Wake != nil {
			l.Wake()
		}
		return ended, nil
	}
}

func event(clientID, subject, sid string) *store.OutboxEvent {
	p, _ := json.Marshal(payload{ClientID: clientID, Subject: subject, SessionID: sid})
	return &store.OutboxEvent{ID: outbox.NewEventID(), Key: outbox.SessionKey(Channel, clientID, subject, sid), Type: Type,
		Channel: Channel, ClientID: clientID, Subject: subject, Payload: p}
}

// Deliverer signs a logout token for each event and POSTs it to the client.
type Deliverer struct {
	Clients Clients
	Keys    *sso.KeyManager
	Issuer  string
	// HTTP sends the tokens: its Internal sender for the clients allowed internal targets.
	HTTP outbox.Senders
	Now  func() time.Time
}

// Deliver sends the event's logout token.
func (d *Deliverer) Deliver(ctx context.Context, e *store.OutboxEvent) error {
	var p payload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return outbox.Permanent("decode event: %v", err)
	}
	c, err := d.Clients.Client(ctx, p.ClientID)
	switch {
	case errors.Is(err, sso.ErrNotFound) && p.Unread:
		// Queued without reading the app (build's blind): it has nothing to be told. Not a
		// failure (no dead letter for an app that never asked for logouts), nor a delivery: the
		// queue records it skipped (review s23 X2-2).
		return fmt.Errorf("%w: client %s is not registered", outbox.ErrNothingToSend, p.ClientID)
	case err == nil && c.BackchannelLogoutURI == "" && p.Unread:
		return fmt.Errorf("%w: client %s has no backchannel_logout_uri", outbox.ErrNothingToSend, p.ClientID)
	case errors.Is(err, sso.ErrNotFound):
		return outbox.Permanent("client %s is no longer registered", p.ClientID)
	case err != nil:
		return err
	case c.BackchannelLogoutURI == "":
		return outbox.Permanent("client %s no longer has a backchannel_logout_uri", p.ClientID)
	}
	tok, err := d.Keys.SignLogoutToken(c.IDTokenSigningAlg, sso.LogoutToken{Issuer: d.Issuer, Audience: c.ID,
		Subject: p.Subject, SessionID: p.SessionID, IssuedAt: d.Now()})
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body, err := d.HTTP.For(c.AllowInternalTargets).Do(ctx, http.MethodPost, c.BackchannelLogoutURI, h, []byte(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	return outbox.Status("back-channel logout", resp, body)
}
