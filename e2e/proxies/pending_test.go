package proxies

import "github.com/chromedp/chromedp"

// Checks that fail today only because a bridge fix (issue 11) has not landed yet. Each is
// skipped with rpharness.WaitingFor and its item named, never weakened; remove the call once the
// fix is on main.
const itemRoles = "issue 11 item 1 (roles are empty: MemberByKey does not load them)"

// css is shorthand for a CSS selector.
type css = chromedp.CSS
