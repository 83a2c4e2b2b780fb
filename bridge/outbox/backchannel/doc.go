// Package backchannel makes sign-out reach every app: OIDC Back-Channel Logout 1.0.
//
// Logouts builds the outbox events for an ended session (one per client of the session that
// registered a backchannel_logout_uri) or for every session of a member at one client (sub
// only), and ends a session (Logouts.EndSession), or every session of a member with the rest of
// a store.Deactivation (Logouts.Deactivate), together with their events in one transaction,
// built there from the sessions' apps as that transaction reads them: what each app's event
// needs is read before, and the transaction reads nothing else; an app whose read failed, or
// that the session signed into since, is read and the transaction tried again, and the last
// try (the fourth) queues its event unread. A SAML SP still unread then cannot be queued (its
// event needs its registration): the session ends all the same and the SP is audited
// (AuditUntold) and logged. The Deliverer reads the app's registration again (an app without a
// logout URI: the event is dropped), signs a fresh logout token at each attempt and POSTs it as
// logout_token to the client's backchannel_logout_uri.
package backchannel
