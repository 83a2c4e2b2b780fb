// Package scim is the provisioning target kind "scim": a SCIM 2.0 service provider (RFC
// 7643/7644). The user is upserted to the state of each event: POST /Users when the server
// does not know it yet (found by externalId = subject), else PUT or PATCH /Users/{id} (a
// replace, and a remove with its path of each attribute the member has none of, never null);
// deactivation sends active=false (with the profile; when the server refuses the profile, 400
// or 409, active=false alone, RFC 7644 3.5.2.3; nothing when the server does not have the
// user); an update refused with 409 (uniqueness, RFC 7644 3.12) is dead at once, not retried
// ahead of the member's later events; roles go in the user's roles attribute and, with
// groups: true, as /Groups memberships (one group per role, found by displayName). A
// deactivated member leaves the groups of their roles in the same delivery (only those: the
// app's other groups are not touched; a member the app already took out, 400 noTarget or a
// group gone, is as wanted), and joins them again when an event makes them active again. The
// id the server returns is remembered with the shadow user.
//
//	provisioning:
//	  portal:
//	    type: scim             # optional when the scim section is the only one
//	    scim:
//	      url: https://portal.example.org/scim/v2
//	      token: ${PORTAL_SCIM_TOKEN}
//	      update: put          # put (default) or patch
//	      groups: true         # also keep /Groups memberships (one group per role)
package scim
