package policy

import (
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// ScopeDescription describes a scope in plain words, for the consent page.
type ScopeDescription struct {
	Scope  string `json:"scope"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	// Claims are the names of the claims the scope releases (to the client, for DescribeScopes).
	Claims []string `json:"claims,omitempty"`
	// Known is false for a scope the server does not define (it releases nothing).
	Known bool `json:"known"`
}

// ScopeDescriptions describes every supported scope, in discovery order, with the claims it
// releases to clients without a policy.
func (e *Engine) ScopeDescriptions() []ScopeDescription {
	out := make([]ScopeDescription, 0, len(e.supportedScopes))
	for _, name := range e.supportedScopes {
		out = append(out, e.describe(e.defaults, name))
	}
	return out
}

// DescribeScopes describes the scopes a client asks for, in the order asked (duplicates
// dropped), with the claims each releases to that client under its names for them. Unknown
// scopes get a generic description and Known false.
func (e *Engine) DescribeScopes(clientID string, scopes []string) []ScopeDescription {
	p := e.policy(clientID)
	out := make([]ScopeDescription, 0, len(scopes))
	var seen []string
	for _, name := range scopes {
		if slices.Contains(seen, name) {
			continue
		}
		seen = append(seen, name)
		out = append(out, e.describe(p, name))
	}
	return out
}

func (e *Engine) describe(p *clientPolicy, name string) ScopeDescription {
	bit, ok := e.bits[name]
	if !ok {
		return ScopeDescription{Scope: name, Title: name, Detail: "Information this app asks for under the name “" + name + "”."}
	}
	s := e.scopes[bits.TrailingZeros64(uint64(bit))]
	d := ScopeDescription{Scope: name, Title: s.title, Detail: s.detail, Known: true}
	for _, en := range p.entries {
		if en.def.mask&bit != 0 && en.targets != 0 {
			d.Claims = append(d.Claims, en.out)
		}
	}
	if p.ns != nil && p.ns.mask&bit != 0 && p.ns.targets != 0 {
		d.Claims = append(d.Claims, p.ns.key)
	}
	if d.Title == "" {
		d.Title = name
	}
	if d.Detail == "" {
		if len(d.Claims) > 0 {
			d.Detail = "From your member record: " + strings.Join(d.Claims, ", ") + "."
		} else {
			d.Detail = "Information this app asks for under the name “" + name + "”."
		}
	}
	return d
}

// Preview is what a client would receive for a member: the claims of each target and the
// access rule's verdict. It is for "ssobridge claims preview" and the admin pages.
type Preview struct {
	ClientID string `json:"client_id"`
	// Policy is true when the client has its own policy (otherwise the defaults apply).
	Policy bool `json:"policy"`
	// Scopes are the granted scopes the server defines (duplicates dropped); Unknown the
	// others, which release nothing.
	Scopes  []string `json:"scopes"`
	Unknown []string `json:"unknown_scopes,omitempty"`

	IDToken     map[string]any `json:"id_token"`
	Userinfo    map[string]any `json:"userinfo"`
	AccessToken map[string]any `json:"access_token"`

	Access AccessResult `json:"access"`
	// Errors lists computed claims that failed to evaluate (and were left out).
	Errors []string `json:"errors,omitempty"`
}

// AccessResult is the access rule's verdict.
type AccessResult struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule,omitempty"` // empty: the client has no access rule
	Error   string `json:"error,omitempty"`
}

// Preview computes the three claim sets and the access verdict for a member, client and
// granted scopes, collecting evaluation errors rather than logging them.
func (e *Engine) Preview(m *legacy.Member, subject, clientID string, scopes []string, now time.Time) (*Preview, error) {
	if m == nil {
		return nil, errNoMember
	}
	p := e.policy(clientID)
	pv := &Preview{ClientID: clientID, Policy: p.custom, Access: AccessResult{Allowed: true, Rule: p.accessSrc}}
	for _, s := range scopes {
		list := &pv.Scopes
		if _, ok := e.bits[s]; !ok {
			list = &pv.Unknown
		}
		if !slices.Contains(*list, s) {
			*list = append(*list, s)
		}
	}
	granted := e.grant(scopes)
	for _, t := range []struct {
		bit targetSet
		dst *map[string]any
	}{{targetIDToken, &pv.IDToken}, {targetUserinfo, &pv.Userinfo}, {targetAccessToken, &pv.AccessToken}} {
		c := e.newCall(m, subject, clientID, now)
		c.onErr = func(d *claimDef, err error) {
			msg := d.field + ": " + err.Error()
			if !slices.Contains(pv.Errors, msg) {
				pv.Errors = append(pv.Errors, msg)
			}
		}
		*t.dst = c.claims(granted, t.bit)
	}
	if p.access != nil {
		ok, err := e.newCall(m, subject, clientID, now).allowed()
		pv.Access.Allowed = ok
		if err != nil {
			pv.Access.Error = err.Error()
		}
	}
	return pv, nil
}
