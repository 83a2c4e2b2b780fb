package policy

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// errNoMember is returned when a nil member is passed.
var errNoMember = errors.New("policy: no member")

// maxScopes bounds the number of scopes (standard and custom): grants are bit sets.
const maxScopes = 64

type scopeMask uint64

// targetSet is a set of claim targets (sso.ClaimTarget), one bit each.
type targetSet uint8

const (
	targetIDToken targetSet = 1 << iota
	targetUserinfo
	targetAccessToken
	allTargets = targetIDToken | targetUserinfo | targetAccessToken
)

func targetOf(t sso.ClaimTarget) (targetSet, bool) {
	switch t {
	case sso.TargetIDToken:
		return targetIDToken, true
	case sso.TargetUserinfo:
		return targetUserinfo, true
	case sso.TargetAccessToken:
		return targetAccessToken, true
	}
	return 0, false
}

// Engine holds the compiled claim policies and access rules. It is immutable and safe for
// concurrent use.
type Engine struct {
	bits            map[string]scopeMask // scope name to its bit
	scopes          []*scopeDef          // every scope, discovery order
	supportedScopes []string
	supportedClaims []string
	defaults        *clientPolicy // for clients without a policy
	policies        map[string]*clientPolicy
	extraCols       []string
	emailVerified   bool
	grace           time.Duration
	standingRule    cel.Program // nil: the built-in rule
	log             *slog.Logger
	builtCEL        bool // the configuration has an expression: the CEL environment was built
}

type scopeDef struct {
	name          string
	bit           scopeMask
	title, detail string
	standard      bool
}

// claimDef is one claim: where its value comes from and which scopes release it.
type claimDef struct {
	name  string
	mask  scopeMask                 // the scopes releasing it
	text  func(c *call) string      // string member and extra-column claims ("": absent)
	value func(c *call) (any, bool) // other member claims
	prog  cel.Program               // computed claims
	field string                    // where it is configured, for error reports
}

func (d *claimDef) eval(c *call) (any, bool) {
	if d.text != nil {
		return str(d.text(c))
	}
	if d.prog == nil {
		return d.value(c)
	}
	v, _, err := d.prog.Eval(c.activation())
	if err == nil {
		var ok bool
		var out any
		if out, ok, err = claimValue(v); err == nil {
			return out, ok
		}
	}
	c.fail(d, err)
	return nil, false
}

// entry is a claim as one client receives it.
type entry struct {
	def     *claimDef
	out     string // the name the client sees
	targets targetSet
}

type namespaceDef struct {
	key     string
	mask    scopeMask
	targets targetSet
	entries []entry
}

type clientPolicy struct {
	id        string
	custom    bool    // configured, rather than the defaults
	entries   []entry // in output order
	ns        *namespaceDef
	roles     []string // allowed roles; nil means all
	access    cel.Program
	accessSrc string
}

// Option configures Compile.
type Option func(*options)

type options struct{ log *slog.Logger }

// WithLogger sets where evaluation failures of computed claims are reported (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Compile checks the configuration and compiles every expression in it. Errors name the
// offending field, e.g. "policies[portal].access_rule: ERROR: <input>:1:1: undeclared
// reference to 'membr'"; all of them are reported, joined.
func Compile(cfg Config, opts ...Option) (*Engine, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	c := &compiler{
		cfg:    cfg,
		e:      &Engine{bits: map[string]scopeMask{}, policies: map[string]*clientPolicy{}, log: o.log, emailVerified: cfg.EmailVerified},
		claims: map[string]*claimDef{},
		extra:  map[string]bool{},
	}
	c.e.grace = cfg.MembershipGrace
	if cfg.MembershipGrace < 0 {
		c.errf("legacy.membership_grace: must not be negative")
	}
	if strings.TrimSpace(cfg.StandingRule) != "" {
		prog, err := c.compile(cfg.StandingRule, cel.BoolType)
		if err != nil {
			c.errf("legacy.standing_rule: %v", err)
		}
		c.e.standingRule = prog
	}
	c.scopes()
	c.globalClaims()
	c.e.defaults = c.client("", ClientPolicy{}, false)
	for _, id := range slices.Sorted(maps.Keys(cfg.Policies)) {
		if id == "" || strings.ContainsAny(id, " \t\r\n") {
			c.errf("policies[%q]: a client id must be non-empty and have no spaces", id)
			continue
		}
		c.e.policies[id] = c.client(id, cfg.Policies[id], true)
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	c.discovery()
	c.e.builtCEL = c.env != nil
	return c.e, nil
}

type compiler struct {
	// env is the CEL environment, built at the first expression (compile): a configuration
	// without any (no standing rule, computed claim or access rule: the usual one) never
	// builds it, which saves its memory and start-up time.
	env     *cel.Env
	envErr  error
	cfg     Config
	e       *Engine
	claims  map[string]*claimDef // global claims by canonical name
	order   []*claimDef          // global claims released by some scope, output order
	extra   map[string]bool      // configured extra columns
	used    scopeMask            // scopes that release something
	clients []*clientPolicy
	errs    []error
}

// compile compiles one expression in the CEL environment, built on first use.
func (c *compiler) compile(src string, want *cel.Type) (cel.Program, error) {
	if c.env == nil && c.envErr == nil {
		env, err := newEnv()
		if err != nil {
			err = fmt.Errorf("policy: CEL environment: %w", err)
		}
		c.env, c.envErr = env, err
	}
	if c.envErr != nil {
		return nil, c.envErr
	}
	return compileExpr(c.env, src, want)
}

func (c *compiler) errf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// scopes assigns every scope its bit: the standard ones, then custom ones by name.
func (c *compiler) scopes() {
	add := func(s *scopeDef) {
		if len(c.e.scopes) == maxScopes {
			c.errf("scopes[%s]: at most %d scopes (standard ones included) are supported", s.name, maxScopes)
			return
		}
		s.bit = 1 << len(c.e.scopes)
		c.e.bits[s.name] = s.bit
		c.e.scopes = append(c.e.scopes, s)
	}
	for _, st := range standardScopes {
		s := &scopeDef{name: st.name, title: st.title, detail: st.detail, standard: true}
		if sc, ok := c.cfg.Scopes[st.name]; ok {
			if fixedScope(st.name) && (len(sc.Claims) > 0 || len(sc.Computed) > 0) {
				c.errf("scopes[%s]: the %s scope cannot release claims", st.name, st.name)
			}
			if sc.Title != "" {
				s.title = sc.Title
			}
			if sc.Detail != "" {
				s.detail = sc.Detail
			}
		}
		add(s)
	}
	for _, name := range slices.Sorted(maps.Keys(c.cfg.Scopes)) {
		if _, ok := c.e.bits[name]; ok {
			continue
		}
		if err := checkScopeName(name); err != nil {
			c.errf("scopes[%s]: %v", name, err)
			continue
		}
		sc := c.cfg.Scopes[name]
		add(&scopeDef{name: name, title: sc.Title, detail: sc.Detail})
	}
}

// globalClaims builds the claim catalogue: member claims, the scopes' computed claims and the
// extra columns scopes release.
func (c *compiler) globalClaims() {
	for _, mc := range memberClaims {
		d := &claimDef{name: mc.name, mask: c.e.bits[mc.scope], text: mc.text, value: mc.value, field: "member claim " + mc.name}
		c.claims[mc.name] = d
		c.order = append(c.order, d)
	}
	for _, col := range c.cfg.ExtraColumns {
		c.extra[col] = true
		if !slices.Contains(c.e.extraCols, col) {
			c.e.extraCols = append(c.e.extraCols, col)
		}
	}
	scopeNames := slices.Sorted(maps.Keys(c.cfg.Scopes))
	var added []*claimDef
	for _, sn := range scopeNames {
		bit, ok := c.e.bits[sn]
		if !ok {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(c.cfg.Scopes[sn].Computed)) {
			field := fmt.Sprintf("scopes[%s].computed[%s]", sn, name)
			if err := checkClaimName(name); err != nil {
				c.errf("%s: %v", field, err)
				continue
			}
			if prev, ok := c.claims[name]; ok {
				c.errf("%s: claim %q is already defined (%s)", field, name, prev.field)
				continue
			}
			prg, err := c.compile(c.cfg.Scopes[sn].Computed[name], nil)
			if err != nil {
				c.errf("%s: %v", field, err)
			}
			d := &claimDef{name: name, mask: bit, prog: prg, field: field}
			c.claims[name] = d
			added = append(added, d)
		}
	}
	for _, sn := range scopeNames {
		bit, ok := c.e.bits[sn]
		if !ok {
			continue
		}
		for i, name := range c.cfg.Scopes[sn].Claims {
			field := fmt.Sprintf("scopes[%s].claims[%d]", sn, i)
			d, ok := c.claims[name]
			if !ok && c.extra[name] {
				if err := checkClaimName(name); err != nil {
					c.errf("%s: %v", field, err)
					continue
				}
				col := name
				d = &claimDef{name: name, field: "extra column " + name, text: func(c *call) string { return c.m.Extra[col] }}
				c.claims[name] = d
				added = append(added, d)
			}
			if d == nil {
				c.errf("%s: unknown claim %q (not a member claim, an extra column or a computed claim; member claims: %s)",
					field, name, strings.Join(memberClaimNames(), ", "))
				continue
			}
			if name == "roles" && sn != ScopeRoles {
				c.errf("%s: the roles claim is only ever released by the roles scope", field)
				continue
			}
			d.mask |= bit
		}
	}
	slices.SortFunc(added, func(a, b *claimDef) int { return strings.Compare(a.name, b.name) })
	c.order = append(c.order, added...)
	for _, d := range c.order {
		c.used |= d.mask
	}
}

func memberClaimNames() []string {
	out := make([]string, len(memberClaims))
	for i, mc := range memberClaims {
		out[i] = mc.name
	}
	return out
}

// client compiles one client's policy (the defaults when custom is false).
func (c *compiler) client(id string, cp ClientPolicy, custom bool) *clientPolicy {
	p := &clientPolicy{id: id, custom: custom}
	at := func(f string) string { return fmt.Sprintf("policies[%s].%s", id, f) }
	scopeBit := func(field, name string) (scopeMask, bool) {
		bit, ok := c.e.bits[name]
		switch {
		case name == "":
			c.errf("%s: required (the scope that must be granted)", at(field))
		case !ok:
			c.errf("%s: unknown scope %q", at(field), name)
		case name == ScopeOfflineAccess:
			c.errf("%s: offline_access does not release claims", at(field))
		default:
			return bit, true
		}
		return 0, false
	}

	// The claims this client can receive: the global ones, then its computed ones.
	defs := slices.Clone(c.order)
	byName := make(map[string]*claimDef, len(defs))
	for _, d := range defs {
		if d.mask != 0 {
			byName[d.name] = d
		}
	}
	defs = slices.DeleteFunc(defs, func(d *claimDef) bool { return d.mask == 0 })
	for _, name := range slices.Sorted(maps.Keys(cp.Computed)) {
		cc := cp.Computed[name]
		field := at("computed[" + name + "]")
		if err := checkClaimName(name); err != nil {
			c.errf("%s: %v", field, err)
			continue
		}
		if prev, ok := c.claims[name]; ok {
			c.errf("%s: claim %q is already defined (%s); pick another name or use rename", field, name, prev.field)
			continue
		}
		bit, ok := scopeBit("computed["+name+"].scope", cc.Scope)
		prg, err := c.compile(cc.Expr, nil)
		if err != nil {
			c.errf("%s.expr: %v", field, err)
		}
		if !ok || err != nil {
			continue
		}
		d := &claimDef{name: name, mask: bit, prog: prg, field: field}
		defs = append(defs, d)
		byName[name] = d
		c.used |= bit
	}

	// Renames, then output names must be unique.
	out := make(map[string]string, len(defs)) // canonical to output name
	for _, d := range defs {
		out[d.name] = d.name
	}
	for _, src := range slices.Sorted(maps.Keys(cp.Rename)) {
		dst := cp.Rename[src]
		field := at("rename[" + src + "]")
		if _, ok := byName[src]; !ok {
			c.errf("%s: unknown claim %q", field, src)
			continue
		}
		if err := checkClaimName(dst); err != nil {
			c.errf("%s: %v", field, err)
			continue
		}
		out[src] = dst
	}
	seen := map[string]string{}
	for _, d := range defs {
		o := out[d.name]
		if prev, ok := seen[o]; ok {
			c.errf("%s: %q and %q would both be named %q", at("rename"), prev, d.name, o)
		}
		seen[o] = d.name
	}

	if cp.AllowedRoles != nil {
		p.roles = slices.Clone(cp.AllowedRoles)
		for i, r := range p.roles {
			if strings.TrimSpace(r) == "" {
				c.errf("%s: empty role name", at(fmt.Sprintf("allowed_roles[%d]", i)))
			}
		}
	}

	if ns := cp.Namespace; ns != nil {
		nd := &namespaceDef{key: ns.Claim, targets: allTargets}
		if err := checkClaimName(ns.Claim); err != nil {
			c.errf("%s: %v", at("namespace.claim"), err)
		} else if prev, ok := seen[ns.Claim]; ok {
			c.errf("%s: %q is already the name of claim %q", at("namespace.claim"), ns.Claim, prev)
		}
		if bit, ok := scopeBit("namespace.scope", ns.Scope); ok {
			nd.mask = bit
			c.used |= bit
		}
		if len(ns.Claims) == 0 {
			c.errf("%s: at least one claim is required", at("namespace.claims"))
		}
		for i, name := range ns.Claims {
			d, ok := byName[name]
			if !ok {
				c.errf("%s: unknown claim %q", at(fmt.Sprintf("namespace.claims[%d]", i)), name)
				continue
			}
			if !slices.ContainsFunc(nd.entries, func(e entry) bool { return e.def == d }) {
				nd.entries = append(nd.entries, entry{def: d, out: out[name]})
			}
		}
		p.ns = nd
	}

	// Per-target allow-lists.
	targets := make(map[string]targetSet, len(defs))
	for _, d := range defs {
		targets[d.name] = allTargets
	}
	for _, tl := range []struct {
		field string
		bit   targetSet
		names []string
	}{{"id_token", targetIDToken, cp.IDToken}, {"userinfo", targetUserinfo, cp.Userinfo}, {"access_token", targetAccessToken, cp.AccessToken}} {
		if tl.names == nil {
			continue
		}
		for name := range targets {
			targets[name] &^= tl.bit
		}
		if p.ns != nil {
			p.ns.targets &^= tl.bit
		}
		for i, name := range tl.names {
			switch _, ok := byName[name]; {
			case ok:
				targets[name] |= tl.bit
			case p.ns != nil && name == p.ns.key:
				p.ns.targets |= tl.bit
			default:
				c.errf("%s: unknown claim %q (name claims by their canonical names, before rename)", at(fmt.Sprintf("%s[%d]", tl.field, i)), name)
			}
		}
	}
	for _, d := range defs {
		p.entries = append(p.entries, entry{def: d, out: out[d.name], targets: targets[d.name]})
	}

	if cp.AccessRule != "" {
		prg, err := c.compile(cp.AccessRule, types.BoolType)
		if err != nil {
			c.errf("%s: %v", at("access_rule"), err)
		}
		p.access, p.accessSrc = prg, cp.AccessRule
	}
	c.clients = append(c.clients, p)
	return p
}

// discovery computes the advertised scopes and claims.
func (c *compiler) discovery() {
	for _, s := range c.e.scopes {
		if fixedScope(s.name) || c.used&s.bit != 0 {
			c.e.supportedScopes = append(c.e.supportedScopes, s.name)
		}
	}
	names := map[string]bool{}
	for _, p := range c.clients {
		for _, en := range p.entries {
			names[en.out] = true
		}
		if p.ns != nil {
			names[p.ns.key] = true
		}
	}
	c.e.supportedClaims = append(slices.Clone(protocolClaims), slices.Sorted(maps.Keys(names))...)
}

// SupportedScopes returns the scopes to advertise (scopes_supported): openid, offline_access
// and every scope that releases at least one claim, standard ones first.
func (e *Engine) SupportedScopes() []string { return slices.Clone(e.supportedScopes) }

// SupportedClaims returns the claims to advertise (claims_supported): the provider's protocol
// claims, then every claim some client can receive under some name, sorted.
func (e *Engine) SupportedClaims() []string { return slices.Clone(e.supportedClaims) }

// PolicyClients returns the client ids that have a policy, sorted (to warn about policies
// for clients that do not exist).
func (e *Engine) PolicyClients() []string { return slices.Sorted(maps.Keys(e.policies)) }

// HasPolicy reports whether the client has its own policy.
func (e *Engine) HasPolicy(clientID string) bool {
	_, ok := e.policies[clientID]
	return ok
}

// HasAccessRule reports whether the client has an access rule.
func (e *Engine) HasAccessRule(clientID string) bool {
	p, ok := e.policies[clientID]
	return ok && p.access != nil
}

func (e *Engine) policy(clientID string) *clientPolicy {
	if p, ok := e.policies[clientID]; ok {
		return p
	}
	return e.defaults
}

// grant turns granted scopes into a bit set; unknown scopes release nothing.
func (e *Engine) grant(scopes []string) scopeMask {
	var m scopeMask
	for _, s := range scopes {
		m |= e.bits[s]
	}
	return m
}

// call is the state of one evaluation.
type call struct {
	p                 *clientPolicy
	m                 *legacy.Member
	subject, clientID string
	now               time.Time
	extraCols         []string
	emailVerified     bool
	act               *activation
	onErr             func(d *claimDef, err error)
	e                 *Engine
	ms                *legacy.Membership
}

func (c *call) activation() *activation {
	if c.act == nil {
		c.act = &activation{
			member:   memberVal{m: c.m, subject: c.subject, now: c.now, extraCols: c.extraCols, membership: c.membership},
			now:      types.Timestamp{Time: c.now},
			clientID: types.String(c.clientID),
		}
	}
	return c.act
}

// membership is the member's standing under the engine's rule, computed once per call.
func (c *call) membership() legacy.Membership {
	if c.ms == nil {
		ms := c.e.Membership(c.m, c.subject, c.clientID, c.now)
		c.ms = &ms
	}
	return *c.ms
}

// Membership decides member m's standing at now: the built-in rule (legacy.Member.MembershipAt
// with the grace period), or the association's standing_rule when configured. A rule that
// fails to evaluate makes the member not current (lapsed, unless the built-in rule says
// inactive or not_member already), and is logged: it fails closed.
func (e *Engine) Membership(m *legacy.Member, subject, clientID string, now time.Time) legacy.Membership {
	ms := m.MembershipAt(now, e.grace)
	if e.standingRule == nil {
		return ms
	}
	builtin := ms
	act := &activation{
		member:   memberVal{m: m, subject: subject, now: now, extraCols: e.extraCols, membership: func() legacy.Membership { return builtin }},
		now:      types.Timestamp{Time: now},
		clientID: types.String(clientID),
	}
	v, _, err := e.standingRule.Eval(act)
	b, ok := v.(types.Bool)
	if err != nil || !ok {
		// Fail closed (review s14 X): the rule replaces the built-in one, usually with a
		// stricter one, so a member it cannot judge is not current; the built-in answer is kept
		// only when it is "not current" already.
		// The class of the error, never its text: cel-go's quotes the value it failed on (the
		// member's AMS data; review s28 R7-5, as the access rule's, review s26 R2-3).
		class := access.ClassNotBool
		if err != nil {
			class = access.FaultClass(err)
		}
		e.log.Warn("legacy.standing_rule failed to evaluate; the member is not current", "client", clientID, "error_class", class)
		if !ms.Current() {
			return ms
		}
		return legacy.Membership{Standing: legacy.StandingLapsed,
			Reason: "standing_rule failed to evaluate, so not current (built-in rule: " + builtin.Standing + ", " + builtin.Reason + ")"}
	}
	switch {
	case bool(b) == ms.Current():
		ms.Reason += "; standing_rule agrees"
	case bool(b):
		ms = legacy.Membership{Standing: legacy.StandingCurrent, Reason: "standing_rule says current (built-in rule: " + builtin.Standing + ", " + builtin.Reason + ")"}
	default:
		ms = legacy.Membership{Standing: legacy.StandingLapsed, Reason: "standing_rule says not current (built-in rule: " + builtin.Standing + ", " + builtin.Reason + ")"}
	}
	return ms
}

// fail reports a computed claim that failed to evaluate: to onErr when set (describe.go),
// else as the engine's warning.
func (c *call) fail(d *claimDef, err error) {
	if c.onErr != nil {
		c.onErr(d, err)
		return
	}
	// The class only (review s28 R7-5): cel-go's text quotes the member's value.
	c.e.log.Warn("computed claim failed; left out", "client", c.clientID, "claim", d.name, "field", d.field, "error_class", access.FaultClass(err))
}

// roles returns the member's roles the client may see, as a new slice.
func (c *call) roles() []string {
	out := make([]string, 0, len(c.m.Roles))
	for _, r := range c.m.Roles {
		if c.p.roles == nil || slices.ContainsFunc(c.p.roles, func(a string) bool { return strings.EqualFold(a, r) }) {
			out = append(out, r)
		}
	}
	return out
}

func (e *Engine) newCall(m *legacy.Member, subject, clientID string, now time.Time) *call {
	p := e.policy(clientID)
	return &call{p: p, m: m, subject: subject, clientID: clientID, now: now, extraCols: e.extraCols, emailVerified: e.emailVerified, e: e}
}

// Claims returns the claims of member m (known to the client as subject) for clientID, the
// granted scopes and target, under the client's policy (or the defaults). A claim is present
// only when a scope releasing it was granted; unknown scopes release nothing. A computed claim
// that fails to evaluate is left out and logged. The map is the caller's.
func (e *Engine) Claims(m *legacy.Member, subject, clientID string, scopes []string, target sso.ClaimTarget, now time.Time) (map[string]any, error) {
	c, granted, t, err := e.claimsCall(m, subject, clientID, scopes, target, now)
	if err != nil {
		return nil, err
	}
	return c.claims(granted, t), nil
}

// WriteClaims writes Claims' claims into sink, one at a time in the map's order of writing
// (a string claim without boxing it): no map is made for them.
func (e *Engine) WriteClaims(m *legacy.Member, subject, clientID string, scopes []string, target sso.ClaimTarget, now time.Time, sink *sso.ClaimSink) error {
	c, granted, t, err := e.claimsCall(m, subject, clientID, scopes, target, now)
	if err != nil {
		return err
	}
	c.writeClaims(granted, t, sink)
	return nil
}

// claimsCall is what Claims and WriteClaims share: the target checked, the member required,
// the call for them and the scopes granted.
func (e *Engine) claimsCall(m *legacy.Member, subject, clientID string, scopes []string, target sso.ClaimTarget, now time.Time) (*call, scopeMask, targetSet, error) {
	t, ok := targetOf(target)
	if !ok {
		return nil, 0, 0, fmt.Errorf("policy: unknown claim target %q", target)
	}
	if m == nil {
		return nil, 0, 0, errNoMember
	}
	return e.newCall(m, subject, clientID, now), e.grant(scopes), t, nil
}

// claimOut is where a call's claims go: a map (Claims) or the provider's sink (WriteClaims).
type claimOut interface {
	String(name, v string)
	Value(name string, v any)
}

// mapOut is a claims map as a claimOut.
type mapOut map[string]any

func (o mapOut) String(name, v string)    { o[name] = v }
func (o mapOut) Value(name string, v any) { o[name] = v }

func (c *call) claims(granted scopeMask, t targetSet) map[string]any {
	// Sized for the claims the granted scopes and the target release, not for every claim of
	// the policy: a refresh's ID token (openid and offline_access) releases few of them, and a
	// map sized for all was the largest allocation of a refresh grant (about 1.2 KB).
	n := 0
	for _, en := range c.p.entries {
		if en.def.mask&granted != 0 && en.targets&t != 0 {
			n++
		}
	}
	if ns := c.p.ns; ns != nil && ns.mask&granted != 0 && ns.targets&t != 0 {
		n++
	}
	out := make(map[string]any, n)
	c.writeClaims(granted, t, mapOut(out))
	return out
}

// writeClaims writes the claims the granted scopes and target release to out, in the policy's
// order, the namespace's object last.
func (c *call) writeClaims(granted scopeMask, t targetSet, out claimOut) {
	for _, en := range c.p.entries {
		if en.def.mask&granted == 0 || en.targets&t == 0 {
			continue
		}
		c.write(en, out)
	}
	if ns := c.p.ns; ns != nil && ns.mask&granted != 0 && ns.targets&t != 0 {
		obj := make(map[string]any, len(ns.entries))
		for _, en := range ns.entries {
			if en.def.mask&granted == 0 {
				continue
			}
			c.write(en, mapOut(obj))
		}
		if len(obj) > 0 {
			out.Value(ns.key, obj)
		}
	}
}

// write writes en's claim to out when it has a value: a string claim as a string.
func (c *call) write(en entry, out claimOut) {
	if d := en.def; d.text != nil {
		if v := d.text(c); v != "" {
			out.String(en.out, v)
		}
		return
	}
	if v, ok := en.def.eval(c); ok {
		out.Value(en.out, v)
	}
}

// Allowed evaluates the client's access rule for member m. Clients without one allow
// everyone. An evaluation error refuses (false) and is returned, naming the rule.
func (e *Engine) Allowed(m *legacy.Member, subject, clientID string, now time.Time) (bool, error) {
	p := e.policy(clientID)
	if p.access == nil {
		return true, nil
	}
	if m == nil {
		return false, errNoMember
	}
	return e.newCall(m, subject, clientID, now).allowed()
}

func (c *call) allowed() (bool, error) {
	v, _, err := c.p.access.Eval(c.activation())
	if err != nil {
		return false, fmt.Errorf("policies[%s].access_rule: %w", c.p.id, err)
	}
	b, ok := v.(types.Bool)
	if !ok {
		// The type only: the value may be the member's data (this error is logged and audited).
		return false, fmt.Errorf("policies[%s].access_rule: a result of type %s is not a bool", c.p.id, v.Type().TypeName())
	}
	return bool(b), nil
}
