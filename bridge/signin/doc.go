// Package signin holds the password check that every password sign-in runs (the login page
// and the password grant): the throttle's check and delay, the AMS password check, the
// failure's record (throttle per typed login and per member, audit row with the login's keyed
// hash), release when the AMS could not be asked, success. Callers turn its answer into their
// own response (a page or RFC 6749 JSON); Message is what a person is told about a failure.
package signin
