// Package authflow is the sign-in flow of the browser: the login page and form, consent, the
// member's part of the device flow (RFC 8628), and the guard on op's authorize callback. Every
// entry point that completes a sign-in request (a live session on the login page, the login
// form, consent, device approval, the AMS hand-off through Finish) goes through the same
// compare-and-set transition (complete: pending -> completed, for the browser that bound it).
package authflow
