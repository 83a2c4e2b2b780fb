package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Records are the store's records the console reads and changes beyond tokens, sessions and
// clients: consents, the audit log and the outbox.
type Records interface {
	Consents(ctx context.Context, subject string) ([]*store.Consent, error)
	AuditEvents(ctx context.Context, f store.AuditFilter) ([]*store.AuditEvent, error)
	OutboxCounts(ctx context.Context) (map[string]int, error)
	OutboxEvents(ctx context.Context, f store.OutboxFilter) ([]*store.OutboxEvent, error)
	RetryEvents(ctx context.Context, id string, now time.Time) (int, error)
	DiscardEvent(ctx context.Context, id string) error
	UpstreamLinks(ctx context.Context, subject string) ([]*store.UpstreamLink, error)
}

// MemberKeys finds a member by the AMS member key (the console's role check).
type MemberKeys interface {
	MemberByKey(ctx context.Context, key string) (*legacy.Member, error)
}

// AMSChecks are the AMS connector's diagnostics; each may be nil.
type AMSChecks struct {
	// Ping checks the AMS answers (the directory's cheapest query).
	Ping legacy.Pinger
	// Diagnoser runs every configured query for a login (legacy check --login).
	Diagnoser legacy.Diagnoser
	// Token tests the AMS token endpoint (legacy check --token).
	Token legacy.TokenChecker
}

var errNoRecords = errors.New("admin: the store's records are not available to this administration")

// MemberRoles returns the login and AMS security roles (ConsoleRoles) of the member behind
// subject, read from the AMS now (not from a token): the console admits an administrator by them. A member whose AMS
// account may not sign in (disabled, locked, expired ...: legacy.Standing) has no roles here
// (ErrNotFound): disabling an account ends its console access although its roles stay.
func (a *Service) MemberRoles(ctx context.Context, subject string) (login string, roles []string, err error) {
	m, err := a.ConsoleMember(ctx, subject)
	if err != nil {
		return "", nil, err
	}
	return m.Login, ConsoleRoles(m), nil
}

// ConsoleRoles returns the roles of m that may admit it to the console: its security roles
// (legacy.RoleSourceUserRoles and RoleSourceStaffRoles grants), not a group, committee, member
// type or web security group that happens to bear a role's name. iMIS authorises by the
// principal's key, never by a name, so a committee called "SysAdmin" grants nothing there and
// grants nothing here. A grant with no source (a directory that does not say where its roles
// come from, or a member with Roles and no Grants) counts: its roles are all it has.
func ConsoleRoles(m *legacy.Member) []string {
	if m.Grants == nil {
		return m.Roles
	}
	var out []string
	for _, g := range m.Grants {
		switch g.Source {
		case legacy.RoleSourceUserRoles, legacy.RoleSourceStaffRoles, "":
			out = append(out, g.Role)
		}
	}
	return out
}

// ConsoleMember is MemberRoles' member, as the AMS has it now (login, roles, standing: the
// console also ends a session opened with the AMS password when the AMS records a change of
// it after the sign-in).
func (a *Service) ConsoleMember(ctx context.Context, subject string) (*legacy.Member, error) {
	if a.Keys == nil {
		return nil, fmt.Errorf("admin: no member directory to read roles from")
	}
	rec, err := a.Store.SubjectByID(ctx, subject)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown subject", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("admin: subject: %w", err)
	}
	m, err := a.Keys.MemberByKey(ctx, rec.MemberKey)
	if errors.Is(err, legacy.ErrNotFound) {
		return nil, fmt.Errorf("%w: the member is no longer in the AMS", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("admin: member: %w", err)
	}
	if err := m.Standing.Check(a.now(), 0); err != nil {
		return nil, fmt.Errorf("%w: the member's AMS account may not sign in: %v", ErrNotFound, err)
	}
	return m, nil
}

// resolveMember turns what an administrator typed (a login, or a subject the bridge has seen)
// into a subject; "" for "".
func (a *Service) resolveMember(ctx context.Context, member string) (string, error) {
	member = strings.TrimSpace(member)
	if member == "" {
		return "", nil
	}
	if _, err := a.Store.SubjectByID(ctx, member); err == nil {
		return member, nil
	}
	return a.subject(ctx, Filter{Login: member})
}

// requireMember is resolveMember for a request that must name a member.
func (a *Service) requireMember(ctx context.Context, member string) (string, error) {
	sub, err := a.resolveMember(ctx, member)
	if err == nil && sub == "" {
		err = fmt.Errorf("%w: say which member", ErrInvalid)
	}
	return sub, err
}

// ConsentInfo is one consent a member gave a client.
type ConsentInfo struct {
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"granted_at"`
}

// Consents lists the consents of a member (a login or subject).
func (a *Service) Consents(ctx context.Context, actor, member string) ([]ConsentInfo, error) {
	if a.Records == nil {
		return nil, errNoRecords
	}
	sub, err := a.requireMember(ctx, member)
	if err != nil {
		return nil, err
	}
	cs, err := a.Records.Consents(ctx, sub)
	if err != nil {
		return nil, fmt.Errorf("admin: consents: %w", err)
	}
	out := []ConsentInfo{}
	for _, c := range cs {
		out = append(out, ConsentInfo{ClientID: c.ClientID, Scopes: c.Scopes, GrantedAt: c.GrantedAt})
	}
	a.record(ctx, actor, "admin.consents_list", sub, "", fmt.Sprintf("(%d)", len(out)))
	return out, nil
}

// LinkInfo is a member's link to an upstream identity (sign-in with another provider).
type LinkInfo struct {
	Provider        string    `json:"provider"`
	Issuer          string    `json:"issuer"`
	UpstreamSubject string    `json:"upstream_subject"`
	Email           string    `json:"email,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
}

// LinkedIdentities lists the upstream identities linked to a member (a login or subject).
func (a *Service) LinkedIdentities(ctx context.Context, actor, member string) ([]LinkInfo, error) {
	if a.Records == nil {
		return nil, errNoRecords
	}
	sub, err := a.requireMember(ctx, member)
	if err != nil {
		return nil, err
	}
	ls, err := a.Records.UpstreamLinks(ctx, sub)
	if err != nil {
		return nil, fmt.Errorf("admin: linked identities: %w", err)
	}
	out := []LinkInfo{}
	for _, l := range ls {
		out = append(out, LinkInfo{Provider: l.Provider, Issuer: l.Issuer, UpstreamSubject: l.UpstreamSubject, Email: l.Email, CreatedAt: l.CreatedAt})
	}
	a.record(ctx, actor, "admin.links_list", sub, "", fmt.Sprintf("(%d)", len(out)))
	return out, nil
}

// CheckLogin runs every configured AMS query for a login and writes what the bridge sees to w
// (`legacy check --login`). It never checks a password.
func (a *Service) CheckLogin(ctx context.Context, actor, login string, w io.Writer) error {
	if a.AMS.Diagnoser == nil {
		return fmt.Errorf("%w: this AMS connector cannot be checked", ErrInvalid)
	}
	// Whose record was looked at goes in the row (as a claims preview's login does).
	a.Audit(ctx, &store.AuditEvent{Time: a.now(), Event: "admin.legacy_check", Login: login, Detail: "by " + actor + ": login check"})
	return a.AMS.Diagnoser.Diagnose(ctx, login, w)
}

// AMSStep is one step of an AMS connection test.
type AMSStep struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
	OK       bool          `json:"ok"`
	Skipped  bool          `json:"skipped,omitempty"`
	// Trace is what the step did and found, line by line (never a password, hash or token).
	Trace string `json:"trace"`
	Error string `json:"error,omitempty"`
}

// TestAMS tests the AMS connection: the ping, every configured query for login (when given)
// and the AMS token request, each step timed.
func (a *Service) TestAMS(ctx context.Context, actor, login string) []AMSStep {
	run := func(name string, f func(w io.Writer) error) AMSStep {
		var b strings.Builder
		start := a.now()
		err := f(&b)
		st := AMSStep{Name: name, Duration: a.now().Sub(start), OK: err == nil, Trace: b.String()}
		if err != nil {
			st.Error = err.Error()
		}
		return st
	}
	skip := func(name, why string) AMSStep { return AMSStep{Name: name, Skipped: true, OK: true, Trace: why} }
	var steps []AMSStep
	if a.AMS.Ping != nil {
		steps = append(steps, run("ping", func(w io.Writer) error {
			err := a.AMS.Ping.Ping(ctx)
			if err == nil {
				fmt.Fprintln(w, "the AMS answered the ping query")
			}
			return err
		}))
	} else {
		steps = append(steps, skip("ping", "this AMS connector has no ping"))
	}
	switch {
	case a.AMS.Diagnoser == nil:
		steps = append(steps, skip("queries", "this AMS connector cannot be checked"))
	case strings.TrimSpace(login) == "":
		steps = append(steps, skip("queries", "give a login to run every configured query for it"))
	default:
		steps = append(steps, run("queries for "+strings.TrimSpace(login), func(w io.Writer) error {
			return a.AMS.Diagnoser.Diagnose(ctx, strings.TrimSpace(login), w)
		}))
	}
	if a.AMS.Token != nil {
		steps = append(steps, run("AMS token request", func(w io.Writer) error { return a.AMS.Token.CheckToken(ctx, w) }))
	} else {
		steps = append(steps, skip("AMS token request", "this AMS connector has no token endpoint"))
	}
	failed := 0
	for _, s := range steps {
		if !s.OK {
			failed++
		}
	}
	// The queries show what the bridge sees of one member: the row names whom (none without a
	// login), as a claims preview's does.
	a.Audit(ctx, &store.AuditEvent{Time: a.now(), Event: "admin.ams_test", Login: strings.TrimSpace(login),
		Detail: fmt.Sprintf("by %s: %d step(s), %d failed", actor, len(steps), failed)})
	return steps
}

// AuditQuery searches the audit log; zero fields do not filter.
type AuditQuery struct {
	Member string // a login or a subject
	Client string
	Event  string
	Since  time.Time
	Until  time.Time
	Limit  int
}

// AuditEvents searches the audit log, newest first.
func (a *Service) AuditEvents(ctx context.Context, actor string, q AuditQuery) ([]*store.AuditEvent, error) {
	if a.Records == nil {
		return nil, errNoRecords
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return nil, fmt.Errorf("%w: the time range's start must be before its end", ErrInvalid)
	}
	sub, err := a.resolveMember(ctx, q.Member)
	if err != nil {
		return nil, err
	}
	evs, err := a.Records.AuditEvents(ctx, store.AuditFilter{Event: strings.TrimSpace(q.Event), Subject: sub,
		ClientID: strings.TrimSpace(q.Client), Since: q.Since, Until: q.Until, Limit: q.Limit})
	if err != nil {
		return nil, fmt.Errorf("admin: audit events: %w", err)
	}
	a.record(ctx, actor, "admin.audit_search", sub, strings.TrimSpace(q.Client), fmt.Sprintf("event=%s (%d)", q.Event, len(evs)))
	return evs, nil
}

// OutboxEventInfo is an outbox event as the administrator sees it (never its payload).
type OutboxEventInfo struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Channel     string    `json:"channel"`
	ClientID    string    `json:"client_id"`
	Subject     string    `json:"subject"`
	Attempts    int       `json:"attempts"`
	CreatedAt   time.Time `json:"created_at"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
}

// TargetDepth is the queue of one delivery target (client and channel).
type TargetDepth struct {
	ClientID string    `json:"client_id"`
	Channel  string    `json:"channel"`
	Pending  int       `json:"pending"`
	Failing  int       `json:"failing"` // pending events whose last attempt failed
	Dead     int       `json:"dead"`
	Oldest   time.Time `json:"oldest"` // the oldest pending event's creation (zero: none)
	// Superseded events: a newer event of the same member and app stands for them (never sent
	// nor retried; kept until purged with the delivered ones).
	Superseded int `json:"superseded"`
	// Skipped events: their deliverer found nothing to send (a logout queued without reading
	// its app, which has no logout URI or is gone); done, never sent nor retried, kept until
	// purged with the delivered ones. Before, they were counted delivered (review s23 X2-2).
	Skipped int `json:"skipped"`
}

// OutboxStatus is the provisioning and logout delivery queue.
type OutboxStatus struct {
	Counts  map[string]int    `json:"counts"`
	Targets []TargetDepth     `json:"targets"`
	Failing []OutboxEventInfo `json:"failing"`
	Dead    []OutboxEventInfo `json:"dead"`
	// Truncated is set when there were more events than were read (limit per state).
	Truncated bool `json:"truncated,omitempty"`
}

// outboxListLimit bounds the events read per state for the status.
const outboxListLimit = 2000

func eventInfo(e *store.OutboxEvent) OutboxEventInfo {
	return OutboxEventInfo{ID: e.ID, Type: e.Type, Channel: e.Channel, ClientID: e.ClientID, Subject: e.Subject,
		Attempts: e.Attempts, CreatedAt: e.CreatedAt, NextAttempt: e.NextAttempt, LastError: e.LastError}
}

// Outbox reports the queue: counts per state, depth per target (superseded and skipped events
// included), failing and dead events.
func (a *Service) Outbox(ctx context.Context, actor string) (*OutboxStatus, error) {
	if a.Records == nil {
		return nil, errNoRecords
	}
	counts, err := a.Records.OutboxCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: outbox counts: %w", err)
	}
	st := &OutboxStatus{Counts: counts, Failing: []OutboxEventInfo{}, Dead: []OutboxEventInfo{}}
	targets := map[[2]string]*TargetDepth{}
	target := func(e *store.OutboxEvent) *TargetDepth {
		k := [2]string{e.ClientID, e.Channel}
		if targets[k] == nil {
			targets[k] = &TargetDepth{ClientID: e.ClientID, Channel: e.Channel}
		}
		return targets[k]
	}
	for _, state := range []string{store.OutboxPending, store.OutboxDead, store.OutboxSuperseded, store.OutboxSkipped} {
		evs, err := a.Records.OutboxEvents(ctx, store.OutboxFilter{State: state, Limit: outboxListLimit})
		if err != nil {
			return nil, fmt.Errorf("admin: outbox events: %w", err)
		}
		if len(evs) == outboxListLimit && counts[state] > outboxListLimit {
			st.Truncated = true
		}
		for _, e := range evs {
			t := target(e)
			if state == store.OutboxSuperseded {
				t.Superseded++
				continue
			}
			if state == store.OutboxSkipped {
				t.Skipped++
				continue
			}
			if state == store.OutboxDead {
				t.Dead++
				st.Dead = append(st.Dead, eventInfo(e))
				continue
			}
			t.Pending++
			if t.Oldest.IsZero() || e.CreatedAt.Before(t.Oldest) {
				t.Oldest = e.CreatedAt
			}
			if e.LastError != "" {
				t.Failing++
				st.Failing = append(st.Failing, eventInfo(e))
			}
		}
	}
	for _, t := range targets {
		st.Targets = append(st.Targets, *t)
	}
	sort.Slice(st.Targets, func(i, j int) bool {
		a, b := st.Targets[i], st.Targets[j]
		return a.ClientID < b.ClientID || (a.ClientID == b.ClientID && a.Channel < b.Channel)
	})
	a.record(ctx, actor, "admin.outbox_status", "", "", fmt.Sprintf("pending %d, dead %d, superseded %d, skipped %d", counts[store.OutboxPending],
		counts[store.OutboxDead], counts[store.OutboxSuperseded], counts[store.OutboxSkipped]))
	return st, nil
}

// RetryEvents re-queues one dead event (by id) or all of them (id empty) and returns how many.
func (a *Service) RetryEvents(ctx context.Context, actor, id string) (int, error) {
	if a.Records == nil {
		return 0, errNoRecords
	}
	n, err := a.Records.RetryEvents(ctx, id, a.now())
	if errors.Is(err, sso.ErrNotFound) {
		return 0, fmt.Errorf("%w: no outbox event %q", ErrNotFound, id)
	}
	if err != nil {
		if id != "" {
			return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return 0, fmt.Errorf("admin: retry events: %w", err)
	}
	what := "all dead events"
	if id != "" {
		what = "event " + id
	}
	a.record(ctx, actor, "admin.outbox_retry", "", "", fmt.Sprintf("%s (%d)", what, n))
	return n, nil
}

// DiscardEvent deletes one dead event.
func (a *Service) DiscardEvent(ctx context.Context, actor, id string) error {
	if a.Records == nil {
		return errNoRecords
	}
	if id == "" {
		return fmt.Errorf("%w: say which event", ErrInvalid)
	}
	err := a.Records.DiscardEvent(ctx, id)
	switch {
	case errors.Is(err, sso.ErrNotFound):
		return fmt.Errorf("%w: no outbox event %q", ErrNotFound, id)
	case errors.Is(err, store.ErrNotDead):
		return fmt.Errorf("%w: event %s is not a dead letter; only dead letters are discarded", ErrInvalid, id)
	case err != nil:
		return fmt.Errorf("admin: discard event: %w", err)
	}
	a.record(ctx, actor, "admin.outbox_discard", "", "", "event "+id)
	return nil
}

// HasRole reports whether roles holds one of want (names compared as the AMS spells them,
// ignoring case).
func HasRole(roles, want []string) bool {
	return slices.ContainsFunc(roles, func(r string) bool {
		return slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(r, w) })
	})
}

// FactorReader reads members' second factors (bridge/mfa) for an administrator (the reset is
// ResetFactors, mfa.go).
type FactorReader interface {
	Factors(ctx context.Context, subject string) (FactorsInfo, error)
}

// PasskeyInfo is one passkey or security key of a member (never its key material).
type PasskeyInfo struct {
	Name       string    `json:"name"`
	Synced     bool      `json:"synced"` // a synced passkey (backup state)
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
}

// FactorsInfo is what second factors a member has.
type FactorsInfo struct {
	TOTP         bool          `json:"totp"`
	RecoveryLeft int           `json:"recovery_codes_left"`
	Passkeys     []PasskeyInfo `json:"passkeys"`
}

// MemberFactors reads a member's (a login or subject) second factors; nil without MFA.
func (a *Service) MemberFactors(ctx context.Context, actor, member string) (*FactorsInfo, error) {
	if a.MFA == nil {
		return nil, nil
	}
	sub, err := a.requireMember(ctx, member)
	if err != nil {
		return nil, err
	}
	f, err := a.MFA.Factors(ctx, sub)
	if err != nil {
		return nil, fmt.Errorf("admin: factors: %w", err)
	}
	a.record(ctx, actor, "admin.factors_list", sub, "", fmt.Sprintf("totp %v, %d passkeys", f.TOTP, len(f.Passkeys)))
	return &f, nil
}
