// Package account serves the member's own pages: the home page and /account, which shows who
// the member is as the bridge sees them, the apps they are signed into and the apps they
// consented to, with sign-out per app, consent withdrawal and "Sign out of all devices"
// (/account/signout-all: every session of the member in every browser, and every grant; it
// asks neither the AMS nor a step-up, so that it works when they cannot be had). "Sign out of
// <app> on all your devices" also takes the app out of every session's list.
package account
