package mfa

// WebAuthn is the passkey relying party (webauthn.go).
type WebAuthn struct{}
