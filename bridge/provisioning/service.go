package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/wire"
)

// Viewer is the member's view for one client: the claims the client may see (after its claim
// policy). Whether the member may use the client is Options.Access's decision.
type Viewer interface {
	View(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) (claims map[string]any, err error)
}

// ViewFunc adapts a function to Viewer.
type ViewFunc func(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) (map[string]any, error)

// View calls f.
func (f ViewFunc) View(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) (map[string]any, error) {
	return f(ctx, m, subject, clientID, now)
}

// ClientSource resolves client configurations (back-channel logout URIs, signing algorithms).
type ClientSource interface {
	Client(ctx context.Context, id string) (*sso.ClientConfig, error)
}

// Options build a Service.
type Options struct {
	Config    Config
	Targets   map[string]Target
	Store     store.Store
	Directory legacy.Directory
	Viewer    Viewer
	Clients   ClientSource
	Keys      *sso.KeyManager
	Issuer    string
	Logger    *slog.Logger
	// HTTPClient sends deliveries (default: a client that never follows redirects).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Lock lets one process at a time run the reconcile (default: a LocalLock of this Service).
	Lock JobLock
	// PublicSID turns a stored session id into the sid that logout tokens carry (default: as is).
	PublicSID func(sessionID string) string
	// Access decides whether the member may be active at a client (and, with
	// access.AnyClient, whether they may sign in at all). Default: access.New(nil, the
	// require_current targets, Logger): standing, and legacy.Member.IsCurrent for
	// require_current; the bridge passes its Decider (grace period, standing_rule, access rules).
	Access access.Decider
}

// Service provisions shadow users and delivers the outbox.
type Service struct {
	cfg     Config
	targets map[string]Target
	store   store.Store
	dir     legacy.Directory
	view    Viewer
	clients ClientSource
	keys    *sso.KeyManager
	issuer  string
	log     *slog.Logger
	http    *http.Client
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	lock    JobLock
	// publicSID: see Options.PublicSID.
	publicSID func(string) string
	access    access.Decider
	wake      chan struct{}
	lease     time.Duration
	batch     int
	workers   int
	pollMu    sync.Mutex
}

// WatermarkName is the store watermark of the AMS change poller.
const WatermarkName = "shadow.ams_changes"

// New builds a Service. Config must be valid (Validate) and Targets too (ValidateTargets).
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lock == nil {
		o.Lock = &LocalLock{}
	}
	if o.Access == nil {
		o.Access = access.New(nil, RequireCurrentClients(o.Targets), o.Logger)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Service{
		cfg: o.Config, targets: o.Targets, store: o.Store, dir: o.Directory, view: o.Viewer, clients: o.Clients,
		keys: o.Keys, issuer: o.Issuer, log: o.Logger, http: o.HTTPClient, now: o.Now, sleep: sleepCtx, lock: o.Lock,
		publicSID: o.PublicSID, access: o.Access,
		wake: make(chan struct{}, 1), lease: 2*o.Config.Timeout + 30*time.Second, batch: 4, workers: 4, // batch = workers: no claimed event waits for a worker past its lease
	}
}

// RequireCurrentClients lists the clients whose target requires a current membership (for
// access.New).
func RequireCurrentClients(targets map[string]Target) []string {
	var ids []string
	for id, t := range targets {
		if t.RequireCurrent {
			ids = append(ids, id)
		}
	}
	return ids
}

// Target returns the provisioning target of a client.
func (s *Service) Target(clientID string) (Target, bool) {
	t, ok := s.targets[clientID]
	return t, ok
}

// Wake makes the deliverer look at the outbox now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run polls the AMS, reconciles every member periodically and delivers the outbox until ctx
// ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		s.runDeliverer(ctx)
	}()
	go func() {
		defer wg.Done()
		s.runPoller(ctx)
	}()
	go func() {
		defer wg.Done()
		s.runReconciler(ctx)
	}()
	wg.Wait()
}

func (s *Service) runPoller(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		if n, err := s.Poll(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "shadow: poll failed", "err", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "shadow: poll", "changed_members", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) runDeliverer(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	for {
		n, err := s.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "shadow: claim failed", "err", err)
		}
		if n == s.batch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		case <-purge.C:
			if n, err := s.store.PurgeDelivered(ctx, s.now().Add(-7*24*time.Hour)); err != nil {
				s.log.ErrorContext(ctx, "shadow: purge delivered events failed", "err", err)
			} else if n > 0 {
				s.log.DebugContext(ctx, "shadow: purged delivered events", "rows", n)
			}
		}
	}
}

// ---- change polling ----

// changeBatch is how many changed members one directory query returns.
const changeBatch = 500

// Poll asks the directory for members changed since the stored watermark and brings their
// shadow users (and, for members who may no longer sign in, their sessions and tokens) up to
// date; it returns how many members it looked at. The watermark moves only past members that
// were handled, so a failure is retried at the next poll.
func (s *Service) Poll(ctx context.Context) (int, error) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	total := 0
	for {
		since, err := s.store.Watermark(ctx, WatermarkName)
		if err != nil {
			return total, fmt.Errorf("shadow: poll: %w", err)
		}
		members, next, err := s.dir.ChangedSince(ctx, since, changeBatch)
		if err != nil {
			return total, fmt.Errorf("shadow: poll: changed since %s: %w", since.Format(time.RFC3339), err)
		}
		sort.SliceStable(members, func(i, j int) bool { return members[i].UpdatedAt.Before(members[j].UpdatedAt) })
		mark := since
		for _, m := range members {
			if err := s.Sync(ctx, m); err != nil {
				// Keep the watermark strictly before the failing member's change time: members
				// sharing that time are polled again (harmless: digests make it idempotent).
				if safe := m.UpdatedAt.Add(-time.Millisecond); mark.After(safe) {
					mark = safe
				}
				if mark.After(since) {
					_ = s.store.SetWatermark(ctx, WatermarkName, mark)
				}
				return total, fmt.Errorf("shadow: poll: member %s: %w", m.Key, err)
			}
			total++
			if m.UpdatedAt.After(mark) {
				mark = m.UpdatedAt
			}
		}
		if next.After(mark) {
			mark = next
		}
		if mark.After(since) {
			if err := s.store.SetWatermark(ctx, WatermarkName, mark); err != nil {
				return total, fmt.Errorf("shadow: poll: %w", err)
			}
		}
		if len(members) < changeBatch || !mark.After(since) {
			if total > 0 {
				s.Wake()
			}
			return total, nil
		}
	}
}

// Sync brings one member's shadow users, sessions and tokens in line with the directory. A
// member who was never signed in has no subject and nothing to do.
func (s *Service) Sync(ctx context.Context, m *legacy.Member) error {
	sub, err := s.store.SubjectByMemberKey(ctx, m.Key)
	if errors.Is(err, sso.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.syncSubject(ctx, m, sub.Subject)
}

// syncSubject is Sync for a member whose subject is known (polling and the reconcile).
func (s *Service) syncSubject(ctx context.Context, m *legacy.Member, subject string) error {
	users, err := s.store.ShadowUsers(ctx, "", subject)
	if err != nil {
		return err
	}
	return s.syncUsers(ctx, m, subject, users)
}

// syncUsers is syncSubject with the member's shadow users already read.
func (s *Service) syncUsers(ctx context.Context, m *legacy.Member, subject string, users []*store.ShadowUser) error {
	if m.Roles == nil {
		roles, err := s.dir.Roles(ctx, m.Key)
		if err != nil {
			return fmt.Errorf("roles: %w", err)
		}
		m.Roles = roles
	}
	if d := s.access.Decide(ctx, m, subject, access.AnyClient, s.now()); !d.Allowed() {
		// The member may no longer sign in anywhere: end everything, in one transaction.
		return s.deactivate(ctx, subject, d.Reason, users, func(su *store.ShadowUser) (store.ShadowUpdate, error) {
			return s.update(ctx, m, subject, su.ClientID, su, false)
		})
	}
	for _, su := range users {
		t, ok := s.targets[su.ClientID]
		if !ok {
			continue
		}
		up, err := s.update(ctx, m, subject, su.ClientID, su, true)
		if err != nil {
			return err
		}
		if su.Active && !up.User.Active {
			// Lapsed per this client's rule: revoke this client's grants and log it out there.
			if ev, err := s.subjectLogout(ctx, su.ClientID, subject); err != nil {
				return err
			} else if ev != nil {
				up.Events = append(up.Events, ev)
			}
			if _, err := s.store.Deactivate(ctx, &store.Deactivation{Subject: subject, RevokeClient: su.ClientID,
				Users: []store.ShadowUpdate{up}}); err != nil {
				return err
			}
			s.log.InfoContext(ctx, "shadow: member deactivated at client", "subject", subject, "client", su.ClientID,
				"reason", reasonAt(t))
			continue
		}
		if up.User.Digest == su.Digest && up.User.Active == su.Active {
			continue // nothing the client sees changed (PutShadowUser would write nothing)
		}
		if _, err := s.store.PutShadowUser(ctx, up.User, up.Events...); err != nil {
			return err
		}
	}
	return nil
}

func reasonAt(t Target) string {
	if t.RequireCurrent {
		return "not_current_or_access_rule"
	}
	return "access_rule"
}

// update computes the member's new shadow-user state at a client and its event (written only
// if the state changed). prev may be nil (first provisioning).
func (s *Service) update(ctx context.Context, m *legacy.Member, subject, clientID string, prev *store.ShadowUser, mayBeActive bool) (store.ShadowUpdate, error) {
	now := s.now()
	claims, err := s.view.View(ctx, m, subject, clientID, now)
	if err != nil {
		return store.ShadowUpdate{}, fmt.Errorf("view for %s: %w", clientID, err)
	}
	d := s.access.Decide(ctx, m, subject, clientID, now)
	if d.Reason == access.ReasonRuleError {
		return store.ShadowUpdate{}, fmt.Errorf("view for %s: %w", clientID, d.Cause)
	}
	active := mayBeActive && d.Allowed()
	return s.shadowUpdate(clientID, userFromClaims(subject, active, claims), prev, now)
}

// shadowUpdate is the shadow-user state for payload u at a client and its event (written only
// if the state changed). prev may be nil (first provisioning).
func (s *Service) shadowUpdate(clientID string, u wire.User, prev *store.ShadowUser, now time.Time) (store.ShadowUpdate, error) {
	t := s.targets[clientID]
	subject, active := u.Subject, u.Active
	sum, view, err := digest(u)
	if err != nil {
		return store.ShadowUpdate{}, err
	}
	typ := wire.TypeUpdated
	switch {
	case prev == nil:
		typ = wire.TypeCreated
	case !active:
		typ = wire.TypeDeactivated
	}
	ev := wire.Event{ID: newEventID(), Type: typ, Timestamp: now.UTC(), ClientID: clientID, Data: u}
	if prev != nil {
		ev.RemovedRoles = removedRoles(prev.View, u.Roles)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return store.ShadowUpdate{}, err
	}
	channel := ChannelWebhook
	if t.SCIM != nil {
		channel = ChannelSCIM
	}
	return store.ShadowUpdate{
		User: &store.ShadowUser{ClientID: clientID, Subject: subject, Digest: sum, Active: active, View: view},
		Events: []*store.OutboxEvent{{ID: ev.ID, Key: eventKey(channel, clientID, subject), Type: typ, Channel: channel,
			ClientID: clientID, Subject: subject, Payload: payload}},
	}, nil
}

// ---- just-in-time provisioning ----

// ErrProvisioning is returned by Provision when a synchronous provisioning failed.
var ErrProvisioning = errors.New("shadow: provisioning failed")

// Provision brings the member's shadow user at the client up to date at sign-in. For a target
// with sync: true the change is delivered before Provision returns (an error wraps
// ErrProvisioning); otherwise it is queued and the deliverer woken. m may be nil (looked up).
func (s *Service) Provision(ctx context.Context, clientID, subject string, m *legacy.Member) error {
	t, ok := s.targets[clientID]
	if !ok {
		return nil
	}
	if m == nil {
		sub, err := s.store.SubjectByID(ctx, subject)
		if err != nil {
			return s.provisionFailed(ctx, t, clientID, subject, fmt.Errorf("subject: %w", err))
		}
		if m, err = s.dir.MemberByKey(ctx, sub.MemberKey); err != nil {
			return s.provisionFailed(ctx, t, clientID, subject, fmt.Errorf("member: %w", err))
		}
	}
	if m.Roles == nil {
		roles, err := s.dir.Roles(ctx, m.Key)
		if err != nil {
			return s.provisionFailed(ctx, t, clientID, subject, fmt.Errorf("roles: %w", err))
		}
		m.Roles = roles
	}
	prev, err := s.store.ShadowUser(ctx, clientID, subject)
	if errors.Is(err, sso.ErrNotFound) {
		prev = nil
	} else if err != nil {
		return s.provisionFailed(ctx, t, clientID, subject, err)
	}
	up, err := s.update(ctx, m, subject, clientID, prev, true) // update asks access.Decide
	if err != nil {
		return s.provisionFailed(ctx, t, clientID, subject, err)
	}
	changed, err := s.store.PutShadowUser(ctx, up.User, up.Events...)
	if err != nil {
		return s.provisionFailed(ctx, t, clientID, subject, err)
	}
	if changed {
		s.log.InfoContext(ctx, "shadow: provisioning queued", "client", clientID, "subject", subject,
			"event", up.Events[0].ID, "type", up.Events[0].Type, "sync", t.Sync)
	}
	if !t.Sync {
		if changed {
			s.Wake()
		}
		return nil
	}
	// Deliver everything pending for this member at this client, in order, now.
	if err := s.deliverKey(ctx, up.Events[0].Key, clientID, subject); err != nil {
		return s.provisionFailed(ctx, t, clientID, subject, err)
	}
	return nil
}

func (s *Service) provisionFailed(ctx context.Context, t Target, clientID, subject string, err error) error {
	s.log.ErrorContext(ctx, "shadow: provisioning failed", "client", clientID, "subject", subject, "sync", t.Sync, "err", err)
	if !t.Sync {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrProvisioning, err)
}

// deliverKey delivers the pending events of one key synchronously, oldest first. An event
// leased by the background deliverer is waited for (bounded by ctx and the lease).
func (s *Service) deliverKey(ctx context.Context, key, clientID, subject string) error {
	deadline := s.now().Add(s.cfg.Timeout + 5*time.Second)
	for {
		evs, err := s.store.ClaimEvents(ctx, store.Claim{Now: s.now(), Lease: s.lease, Limit: 1, Key: key})
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			pending, err := s.store.OutboxEvents(ctx, store.OutboxFilter{State: store.OutboxPending, ClientID: clientID, Subject: subject})
			if err != nil {
				return err
			}
			busy := false
			for _, e := range pending {
				if e.Key == key {
					busy = true
					break
				}
			}
			if !busy {
				return nil
			}
			if s.now().After(deadline) {
				return errors.New("an earlier delivery for this member is still in progress")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if err := s.deliverOne(ctx, evs[0]); err != nil {
			return err
		}
	}
}

// ---- logout ----

// LogoutEvents returns the back-channel logout events for an ended session: one per client of
// the session that registered a backchannel_logout_uri.
func (s *Service) LogoutEvents(ctx context.Context, sess *sso.Session) []*store.OutboxEvent {
	var out []*store.OutboxEvent
	for _, id := range sess.Clients {
		c, err := s.clients.Client(ctx, id)
		if err != nil || c.BackchannelLogoutURI == "" {
			continue
		}
		sid := sess.ID
		if s.publicSID != nil {
			sid = s.publicSID(sid)
		}
		out = append(out, s.logoutEvent(id, sess.Subject, sid))
	}
	return out
}

func (s *Service) logoutEvent(clientID, subject, sid string) *store.OutboxEvent {
	p, _ := json.Marshal(logoutPayload{ClientID: clientID, Subject: subject, SessionID: sid})
	return &store.OutboxEvent{ID: newEventID(), Key: eventKey(ChannelBackchannel, clientID, subject), Type: TypeLogout,
		Channel: ChannelBackchannel, ClientID: clientID, Subject: subject, Payload: p}
}

// sessionLogouts builds logout events for sessions ended by a deactivation.
func (s *Service) sessionLogouts(ctx context.Context) func([]*sso.Session) []*store.OutboxEvent {
	return func(ended []*sso.Session) []*store.OutboxEvent {
		var out []*store.OutboxEvent
		for _, ss := range ended {
			out = append(out, s.LogoutEvents(ctx, ss)...)
		}
		return out
	}
}

// subjectLogout is a sub-only logout event for a client (every session of the member there).
func (s *Service) subjectLogout(ctx context.Context, clientID, subject string) (*store.OutboxEvent, error) {
	c, err := s.clients.Client(ctx, clientID)
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if c.BackchannelLogoutURI == "" {
		return nil, nil
	}
	return s.logoutEvent(clientID, subject, ""), nil
}

// EndSession ends a session and queues its back-channel logouts in one transaction.
func (s *Service) EndSession(ctx context.Context, sess *sso.Session) error {
	evs := s.LogoutEvents(ctx, sess)
	if err := s.store.EndSessionWithEvents(ctx, sess.ID, evs...); err != nil {
		return err
	}
	if len(evs) > 0 {
		s.Wake()
	}
	return nil
}

func (s *Service) deliverBackchannel(ctx context.Context, e *store.OutboxEvent) error {
	var p logoutPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return permanent("decode event: %v", err)
	}
	c, err := s.clients.Client(ctx, p.ClientID)
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return permanent("client %s is no longer registered", p.ClientID)
		}
		return err
	}
	if c.BackchannelLogoutURI == "" {
		return permanent("client %s no longer has a backchannel_logout_uri", p.ClientID)
	}
	tok, err := s.keys.SignLogoutToken(c.IDTokenSigningAlg, sso.LogoutToken{Issuer: s.issuer, Audience: c.ID,
		Subject: p.Subject, SessionID: p.SessionID, IssuedAt: s.now()})
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body, err := s.do(ctx, http.MethodPost, c.BackchannelLogoutURI, h, []byte(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	return statusError("back-channel logout", resp, body)
}

// ---- delivery ----

// DeliverDue claims and delivers one batch of due events; it returns how many it claimed.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	evs, err := s.store.ClaimEvents(ctx, store.Claim{Now: s.now(), Lease: s.lease, Limit: s.batch})
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	for _, e := range evs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = s.deliverOne(ctx, e)
		}()
	}
	wg.Wait()
	return len(evs), nil
}

// deliverOne delivers a claimed event and records the outcome.
//
// A claimed delivery runs to its end even when ctx ends (shutdown, a sign-in request gone): the
// receiver may already have acted on it, and only the recorded outcome keeps it from being sent
// again after the lease. Each request is bounded by the configured timeout, and Run returns
// once the deliveries in flight are recorded.
func (s *Service) deliverOne(ctx context.Context, e *store.OutboxEvent) error {
	ctx = context.WithoutCancel(ctx)
	start := s.now()
	err := s.send(ctx, e)
	if err == nil {
		if merr := s.store.MarkDelivered(ctx, e.ID, s.now()); merr != nil {
			s.log.ErrorContext(ctx, "shadow: mark delivered failed", "event", e.ID, "err", merr)
			return merr
		}
		s.log.InfoContext(ctx, "shadow: delivered", "event", e.ID, "type", e.Type, "channel", e.Channel,
			"client", e.ClientID, "subject", e.Subject, "attempt", e.Attempts, "duration", s.now().Sub(start))
		return nil
	}
	dead := isPermanent(err) || e.Attempts >= s.cfg.MaxAttempts
	next := s.now().Add(s.backoff(e.Attempts))
	if merr := s.store.MarkFailed(ctx, e.ID, next, err.Error(), dead); merr != nil {
		s.log.ErrorContext(ctx, "shadow: mark failed failed", "event", e.ID, "err", merr)
	}
	level := slog.LevelWarn
	if dead {
		level = slog.LevelError
	}
	s.log.Log(ctx, level, "shadow: delivery failed", "event", e.ID, "type", e.Type, "channel", e.Channel,
		"client", e.ClientID, "subject", e.Subject, "attempt", e.Attempts, "dead", dead, "next_attempt", next, "err", err)
	return err
}

func (s *Service) send(ctx context.Context, e *store.OutboxEvent) error {
	if e.Channel == ChannelBackchannel {
		return s.deliverBackchannel(ctx, e)
	}
	t, ok := s.targets[e.ClientID]
	if !ok {
		return permanent("client %s has no provisioning target any more", e.ClientID)
	}
	switch {
	case e.Channel == ChannelSCIM && t.SCIM != nil:
		return s.deliverSCIM(ctx, t.SCIM, e)
	case e.Channel == ChannelWebhook && t.Webhook != nil:
		return s.deliverWebhook(ctx, t.Webhook, e)
	}
	return permanent("client %s is no longer provisioned by %s", e.ClientID, e.Channel)
}

// backoff is the delay after the n-th failed attempt: backoff_min doubled per attempt up to
// backoff_max, with jitter in [d/2, d] so that receivers coming back are not stampeded.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.BackoffMin
	for i := 1; i < n && d < s.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1)
}

// deactivate ends everything of a member who may no longer sign in, in one transaction:
// sessions ended (back-channel logout queued for their clients), every grant revoked, and each
// shadow user at a provisioning target deactivated with the update build makes for it. It is
// logged at info when it ended something; a member who stays disabled is seen again by every
// reconcile pass, at debug.
func (s *Service) deactivate(ctx context.Context, subject, reason string, users []*store.ShadowUser,
	build func(*store.ShadowUser) (store.ShadowUpdate, error)) error {
	d := &store.Deactivation{Subject: subject, EndSessions: true, Logout: s.sessionLogouts(ctx)}
	wasActive := 0
	for _, su := range users {
		if _, ok := s.targets[su.ClientID]; !ok {
			continue
		}
		up, err := build(su)
		if err != nil {
			return err
		}
		d.Users = append(d.Users, up)
		if su.Active {
			wasActive++
		}
	}
	ended, err := s.store.Deactivate(ctx, d)
	if err != nil {
		return err
	}
	level := s.log.DebugContext
	if len(ended) > 0 || wasActive > 0 {
		level = s.log.InfoContext
	}
	level(ctx, "shadow: member deactivated", "subject", subject, "reason", reason,
		"sessions_ended", len(ended), "shadow_users", wasActive)
	return nil
}
