// Package logout serves sign-out: RP-initiated logout (end_session hands a sealed ticket to
// /logout, which signs out at once for the verified member or asks first), the signed-out page,
// front-channel logout frames, and single sign-off through the AMS website's sign-out page.
package logout
