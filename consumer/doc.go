// Package consumer is the app side of ssobridge for Go apps: it keeps a "shadow" user table in
// the app's own database, keyed by the bridge's subject, so that the app can reference members
// with foreign keys, and it ends the app's sessions when the bridge says so.
//
//   - SignIn verifies an ID token (coreos/go-oidc), upserts the shadow user (with an unusable
//     random password, so nobody can sign in locally) and its roles, and opens a local session
//     that remembers the bridge's session id (sid).
//   - BackchannelLogoutHandler receives OIDC Back-Channel Logout 1.0 logout tokens, validates
//     them as section 2.6 requires (signature by the bridge's keys, iss, aud, iat, exp, typ
//     logout+jwt, the events member, sub and/or sid, no nonce, no replayed jti) and ends the
//     matching local sessions.
//   - WebhookHandler receives the bridge's Standard Webhooks pushes (signature and timestamp
//     checked, de-duplicated by webhook-id) and SCIMHandler its SCIM 2.0 pushes (/Users, with
//     PATCH add, replace and remove as RFC 7644 3.5.2, the paths Entra and Okta send too, and
//     /Groups, a group being the users holding a role); both upsert into the same table, and a
//     deactivation ends the member's local sessions.
//
// The message format (events, the SCIM User resource, webhook signatures) is package wire,
// the one the bridge writes; this package imports nothing else of the project.
//
// Tables (created by Migrate; portable SQL for SQLite and PostgreSQL):
//
//	sso_users       subject (primary key), login, email, name, given_name, family_name,
//	                picture, active, membership (JSON), password_hash, updated_at
//	sso_user_roles  subject, role
//	sso_sessions    id, subject, sid, created_at, ended
//	sso_seen        ids already processed (webhook ids, logout token jti)
package consumer
