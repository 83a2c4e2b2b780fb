package backchannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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
}

// Logouts builds back-channel logout events and ends sessions with them.
type Logouts struct {
	Store   store.Store
	Clients Clients
	// PublicSID turns a stored session id into the sid that logout tokens carry (nil: as is).
	PublicSID func(sessionID string) string
	// Wake tells the outbox that events were queued (nil: nothing to tell).
	Wake func()
	// Others, when set, adds the logout events of the session's other apps (the SAML service
	// providers' back-channel single logouts), queued with these.
	Others func(ctx context.Context, sess *sso.Session) []*store.OutboxEvent
	// Log says which app's logout could not be built (nil: not logged).
	Log *slog.Logger
}

// SessionEvents returns the logout events for an ended session: one per client of the
// session that registered a backchannel_logout_uri, and Others'. A client that cannot be read
// (the store failing) gets no event, and the log says so.
func (l *Logouts) SessionEvents(ctx context.Context, sess *sso.Session) []*store.OutboxEvent {
	var out []*store.OutboxEvent
	sid := l.sid(sess)
	for _, id := range sess.Clients {
		ev, err := l.clientEvent(ctx, id, sess.Subject, sid)
		if err != nil && l.Log != nil {
			l.Log.WarnContext(ctx, "back-channel logout not queued: the app could not be read", "client", id, "err", err)
		}
		if ev != nil {
			out = append(out, ev)
		}
	}
	if l.Others != nil {
		out = append(out, l.Others(ctx, sess)...)
	}
	return out
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

// EndedSessions is SessionEvents for every session a deactivation ends (store.Deactivation's
// Logout).
func (l *Logouts) EndedSessions(ctx context.Context) func([]*sso.Session) []*store.OutboxEvent {
	return func(ended []*sso.Session) []*store.OutboxEvent {
		var out []*store.OutboxEvent
		for _, s := range ended {
			out = append(out, l.SessionEvents(ctx, s)...)
		}
		return out
	}
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

// Queued tells the outbox that logout events were stored (by a store.Deactivation whose
// Logout is EndedSessions).
func (l *Logouts) Queued() {
	if l.Wake != nil {
		l.Wake()
	}
}

// EndSession ends a session and queues its back-channel logouts in one transaction.
func (l *Logouts) EndSession(ctx context.Context, sess *sso.Session) error {
	evs := l.SessionEvents(ctx, sess)
	if err := l.Store.EndSessionWithEvents(ctx, sess.ID, evs...); err != nil {
		return err
	}
	if len(evs) > 0 && l.Wake != nil {
		l.Wake()
	}
	return nil
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
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return outbox.Permanent("client %s is no longer registered", p.ClientID)
		}
		return err
	}
	if c.BackchannelLogoutURI == "" {
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
