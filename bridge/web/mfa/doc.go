// Package mfa is the web side of second factors: the second-factor step of a sign-in
// (/login/mfa), which a sign-in that passed its password, or a session that must step up,
// reaches through a single-use challenge bound to the browser (store.MFAChallenge: pending ->
// passed, once; a sign-in's open no longer than mfa.step_up_max_age after its first factor); the member's security page (/account/security: authenticator app, recovery
// codes, passkeys), where every change waits for the member to confirm it's them recently (a
// step-up with their factor; for a first one, a sign-in no older than mfa.step_up_max_age, else
// their password at the step-up page: security.go reconfirm); and the WebAuthn ceremonies' JSON
// endpoints (passkeys.go). No session
// exists for a sign-in until its second factor passed, so no other path can complete it. The
// session's auth time is when a factor of the member's was checked at the step, else its first
// factor's (mfa.go, signInTime: the reset notice acknowledged, a factor enrolled).
package mfa
