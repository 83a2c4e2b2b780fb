// Package mfa keeps members' second factors, in the bridge's own store (the AMS has none):
// TOTP authenticator apps (RFC 6238: 30 s steps, 6 digits, one step either side, each step
// usable once) with ten single-use recovery codes kept hashed, and passkeys (WebAuthn, with
// go-webauthn) usable alone (discoverable credentials) or after the password. It decides when a
// sign-in needs a second factor (the member opted in by enrolling, the app requires it, the app
// asked with acr_values, the member's AMS role requires it), throttles wrong codes (TOTP and
// recovery codes) per member, but not passkey answers, which cannot be guessed: wrong codes
// typed by someone holding the password do not lock the member's passkey sign-in. It writes
// the audit rows of enrolment, use and removal (an administrator's reset is bridge/admin's,
// which ends the member's sessions with it). It issues administrators' one-time enrolment
// invitations (invite.go), which a first factor needs with mfa.first_enrolment: invitation
// (InviteNeeded; ConfirmTOTP and FinishRegistration use one in the transaction that stores the
// factor, and without one store the factor only beside another the member has then, which the
// store checks in that transaction: ErrInviteMissing). The pages are in bridge/web/mfa.
package mfa
