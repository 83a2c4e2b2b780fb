// Package policy decides which claims each client receives and which members may use it.
//
// At start-up, Compile checks a Config (custom scopes and one ClientPolicy per client id)
// and compiles every CEL expression in it once; a mistake is an error naming the field, as in
// "policies[portal].access_rule: ERROR: <input>:1:1: undeclared reference to 'membr'". The
// resulting Engine is immutable and safe for concurrent use; per request it evaluates:
//
//   - Claims: the claims of a member for a client, the granted scopes and a target (ID token,
//     userinfo or access token). A claim is present only when a scope that releases it was
//     granted; unknown scopes release nothing. Clients without a policy get every claim of
//     their granted scopes in all three targets.
//   - Allowed: the client's access rule (clients without one allow everyone).
//   - ScopeDescriptions / DescribeScopes: plain-words wording for the consent page.
//   - SupportedScopes / SupportedClaims: what discovery advertises, derived from the config.
//   - Preview: all of the above for one member, for the CLI and admin pages.
//
// # Scopes and claims
//
// Built-in scopes and their claims:
//
//	openid          (none: the provider sets sub)
//	profile         name given_name family_name preferred_username picture updated_at
//	email           email email_verified (false unless email_verified: true says the AMS verifies addresses)
//	phone, address  (none until configured: the AMS record has no such fields)
//	offline_access  (none: refresh tokens)
//	membership      member_id member_type member_status join_date paid_through is_current company
//	roles           roles (the member's roles, filtered by the client's allowed_roles)
//
// Empty values are left out. Custom scopes, and additions to the standard ones, name further
// claims: member claims, extra columns (legacy.extra_columns, released as strings) or claims
// computed by CEL. Only openid and offline_access cannot be given claims, and the roles claim
// is released by the roles scope only. Discovery advertises openid, offline_access and every
// scope that releases something.
//
// # Configuration
//
// The keys below sit at the top level of the server's configuration file (Config inlined):
//
//	scopes:
//	  chapter:                      # a custom scope
//	    title: Your chapter         # consent wording (default: scope name and its claims)
//	    detail: The chapter and region you belong to.
//	    claims: [chapter, company]  # an extra column and a member claim
//	    computed:                   # claims released by this scope, computed by CEL
//	      region: 'member.extra["country"] in ["NO", "SE"] ? "nordic" : "other"'
//	  address:                      # give a standard scope claims
//	    computed:
//	      address: '{"locality": member.extra["city"], "country": member.extra["country"]}'
//	  membership:
//	    claims: [title]             # add an extra column to a standard scope
//
//	policies:
//	  portal:                       # a client id
//	    # Per-target allow-lists, by canonical claim name (absent: all; []: none).
//	    id_token: [name, email, member_type, "https://portal.example.org/membership"]
//	    # userinfo: [...]
//	    # access_token: [...]
//	    allowed_roles: [Member, Board]          # case-insensitive; absent: all roles
//	    rename: {member_type: membership_level} # everywhere this client sees the claim
//	    namespace:
//	      claim: https://portal.example.org/membership
//	      scope: membership                     # must be granted for the object to appear
//	      claims: [member_id, paid_through, is_current, is_staff]
//	    computed:
//	      is_staff: {scope: roles, expr: '"Staff" in member.roles'}
//	      renewal_due: {scope: membership, expr: 'member.paid_thru < now + duration("720h")'}
//	    access_rule: 'member.is_current || "Staff" in member.roles'
//
// Everywhere in a policy, claims go by their canonical names (before rename). Inside the
// namespace object, a claim is present only when a scope releasing it was granted too, so
// the object never carries what the top level may not. A computed claim whose result is
// null or "" is left out; one that fails at run time (a missing map key, say) is left out and
// logged.
//
// # CEL environment
//
// Expressions see three variables:
//
//	member     ssobridge.Member, with fields
//	             subject string (the subject this client knows the member by),
//	             member_id, login, email, given_name, family_name, name, company,
//	             member_type, status string, join_date, paid_thru timestamp
//	             (0001-01-01T00:00:00Z when unknown; has(member.paid_thru) tests it),
//	             is_current bool (paid through the end of paid_thru's day),
//	             roles list(string) (all of them: allowed_roles filters the claim only),
//	             extra map(string, string) (every configured extra column is present).
//	           The AMS contact key is deliberately not a field.
//	now        timestamp: the time of the request
//	client_id  string
//
// with the standard library, optional values (member.extra.?title.orValue("")) and the
// strings and sets extensions (member.email.lowerAscii(), sets.intersects(member.roles,
// ["Staff", "Board"])). An access rule must be of type bool; computed claims may be bool,
// int, uint, double, string, timestamp (written as RFC 3339 in UTC), null, or lists and
// string-keyed maps of these. Each evaluation is bounded by a cost limit; an access rule that
// fails to evaluate refuses, and a legacy.standing_rule that fails to evaluate makes the member
// not current.
package policy
