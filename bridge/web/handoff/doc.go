// Package handoff signs members in from the AMS website: its single sign-on part POSTs a token
// that is redeemed once at the AMS (the connector's HandoffExchanger), the browser goes on with a
// same-site GET bound to it by a cookie, a confirmation page guards an opaque origin or another
// member's session, and the browser's pending sign-in request is finished through authflow.
package handoff
