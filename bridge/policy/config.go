package policy

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the claim and access configuration of the whole server: custom scopes (and
// additions to the standard ones) and one policy per client. It is meant to be inlined at the
// top level of the server's configuration file, giving the keys "scopes" and "policies".
type Config struct {
	// Scopes defines custom scopes, or adds claims to (and re-words) standard ones, by scope
	// name. The claims of openid and offline_access cannot be changed.
	Scopes map[string]Scope `yaml:"scopes" json:"scopes,omitempty"`
	// Policies holds each client's claim policy and access rule, by client id. A client without
	// an entry gets every claim of the scopes it was granted, in every token, and no access rule.
	Policies map[string]ClientPolicy `yaml:"policies" json:"policies,omitempty"`
	// EmailVerified is the email_verified claim sent with every e-mail address: false by
	// default (iMIS does not verify addresses); true only for an association whose AMS holds
	// verified addresses.
	EmailVerified bool `yaml:"email_verified" json:"email_verified,omitempty"`

	// ExtraColumns are the names of the directory's extra columns (legacy.extra_columns, or the
	// demo directory's). They are the Member.Extra keys a scope may release as claims, and the
	// keys member.extra always has in expressions (the empty string when the AMS has no value).
	// Not read from YAML: the server fills it in from the directory's configuration.
	ExtraColumns []string `yaml:"-" json:"-"`
	// MembershipGrace and StandingRule decide the membership standing (legacy.membership_grace
	// and legacy.standing_rule; not read from YAML here). StandingRule, when set, is a CEL
	// expression of type bool that says whether the member is current; inside it
	// member.standing and member.is_current are the built-in answer (legacy.Member.MembershipAt).
	MembershipGrace time.Duration `yaml:"-" json:"-"`
	StandingRule    string        `yaml:"-" json:"-"`
}

// Scope configures one scope.
type Scope struct {
	// Title and Detail describe the scope in plain words on the consent page (defaults: the
	// standard wording for standard scopes, the scope name and its claims for custom ones).
	Title  string `yaml:"title" json:"title,omitempty"`
	Detail string `yaml:"detail" json:"detail,omitempty"`
	// Claims names the claims the scope releases: member claims (such as member_id or
	// company; roles only in the roles scope), extra columns (their value, as a string) and
	// computed claims of any scope.
	Claims []string `yaml:"claims" json:"claims,omitempty"`
	// Computed defines claims computed by CEL expressions (claim name to expression), released
	// by this scope (and by any other scope that lists them in Claims).
	Computed map[string]string `yaml:"computed" json:"computed,omitempty"`
}

// ClientPolicy is one client's claim policy and access rule. Claims are named by their
// canonical names (as the scopes define them, before Rename) everywhere in it.
type ClientPolicy struct {
	// IDToken, Userinfo and AccessToken are per-target allow-lists of claim names (and of the
	// namespace claim). Absent: every claim of the granted scopes. An empty list: none.
	IDToken     []string `yaml:"id_token" json:"id_token,omitempty"`
	Userinfo    []string `yaml:"userinfo" json:"userinfo,omitempty"`
	AccessToken []string `yaml:"access_token" json:"access_token,omitempty"`
	// AllowedRoles limits the roles the client may see (compared case-insensitively): the roles
	// claim holds the member's roles that are in this list. Absent: all of them. Roles are only
	// ever released with a scope that releases the roles claim (the roles scope by default).
	AllowedRoles []string `yaml:"allowed_roles" json:"allowed_roles,omitempty"`
	// Rename gives claims another name for this client (canonical name to new name), wherever
	// the client receives them, the namespace object included.
	Rename map[string]string `yaml:"rename" json:"rename,omitempty"`
	// Namespace adds one claim holding an object of other claims, for apps that expect their
	// data under a namespaced (URL) claim.
	Namespace *Namespace `yaml:"namespace" json:"namespace,omitempty"`
	// Computed defines claims for this client only, computed by CEL expressions.
	Computed map[string]Computed `yaml:"computed" json:"computed,omitempty"`
	// AccessRule is a CEL expression of type bool: members for whom it is false may not use
	// the client (at sign-in and when a refresh token is used). Empty: everyone may.
	AccessRule string `yaml:"access_rule" json:"access_rule,omitempty"`
}

// Namespace is a claim whose value is an object of other claims.
type Namespace struct {
	// Claim is the claim's name, usually a URL the client owns
	// (https://portal.example.org/membership).
	Claim string `yaml:"claim" json:"claim"`
	// Scope must be granted for the object to be present.
	Scope string `yaml:"scope" json:"scope"`
	// Claims are the claims in the object. Each one is in it only when a scope releasing it was
	// granted too.
	Claims []string `yaml:"claims" json:"claims"`
}

// Computed is a client's computed claim: a CEL expression and the scope that releases it.
type Computed struct {
	// Scope must be granted for the claim to be computed and released.
	Scope string `yaml:"scope" json:"scope"`
	// Expr is the CEL expression. A null or empty-string result leaves the claim out.
	Expr string `yaml:"expr" json:"expr"`
}

// UnmarshalYAML accepts the mapping form {scope: ..., expr: ...}. A bare expression decodes
// too, so that Compile can say precisely that the scope is missing.
func (c *Computed) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*c = Computed{Expr: n.Value}
		return nil
	case yaml.MappingNode:
		var out Computed
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: %s must be a string", v.Line, k.Value)
			}
			switch k.Value {
			case "scope":
				out.Scope = v.Value
			case "expr":
				out.Expr = v.Value
			default:
				return fmt.Errorf("line %d: field %s not found in computed claim (want scope and expr)", k.Line, k.Value)
			}
		}
		*c = out
		return nil
	}
	return fmt.Errorf("line %d: a computed claim is {scope: <scope>, expr: <CEL expression>}", n.Line)
}
