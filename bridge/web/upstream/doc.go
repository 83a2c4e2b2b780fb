// Package upstream serves sign-in through upstream OpenID providers (bridge/upstream): the
// login page's buttons start it, the provider's callback is taken once (a pending upstream
// sign-in is a compare-and-set state machine in the store: started -> returned -> done), and a
// linked identity signs its member in after the same AMS checks as a password sign-in; an
// unlinked one is linked by the member's AMS password (once), by a verified e-mail address that
// exactly one active member has (when the provider allows it), or from the account page. It
// also takes the providers' back-channel logout tokens.
package upstream
