// Package access owns the one answer to "may member M use app C now".
//
// Every path that lets a member in (the login and consent pages, the hand-off from the AMS
// website, the password and refresh grants, token exchange, the admin preview, shadow
// provisioning and its reconcile) asks a Decider and acts on the Decision; none of them
// rebuilds the rules. A Decision is allow, or the rule that refused with a reason code and a
// member-facing message. The rules, in order:
//
//  1. Standing: the member's AMS account may sign in at all (legacy.Standing.Check: not
//     deleted, disabled, expired, unapproved or locked out).
//  2. RequireCurrent: a client whose provisioning target says require_current admits only
//     members whose membership is current (the policy engine's membership rule: grace period
//     and standing_rule, the same answer as the tokens' is_current).
//  3. AccessRule: the client's access rule (policies[client].access_rule); a rule that fails
//     to evaluate refuses (Decision.Reason ReasonRuleError) and is logged.
//
// Decide with clientID AnyClient asks only rule 1: may the member sign in anywhere (the
// account page, the hand-off before it knows the app, shadow's member-wide deactivation).
//
// The Checker is built once in the composition root (New) from the policy engine and the set
// of require_current clients, and handed to every part that needs it as a Decider.
package access
