package bridge_test

import (
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// TestSelectAccountIsNotSilent (review s17 X17-5; OIDC Core 3.1.2.1 prompt=select_account: "The
// Authorization Server SHOULD prompt the End-User to select a user account ... If it cannot obtain
// an account selection choice made by the End-User, it MUST return an error, typically
// account_selection_required"). An app's "switch account" button sends prompt=select_account;
// with a live session the bridge hands the app a code for the signed-in member at once, so the
// app believes the member chose, and the person at a shared computer cannot switch. The answer
// must be a page where the member chooses (continue as the signed-in member, or another
// account), or account_selection_required at the redirect URI, never a code without a choice.
func TestSelectAccountIsNotSilent(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	if e.signIn(b, web.AuthCodeURL("s1"), "alice", "alice-password") == "" {
		t.Fatal("no first sign-in")
	}
	p := b.Get(web.AuthCodeURL("s2", oauth2.SetAuthURLParam("prompt", "select_account")))
	if p.Location == "" {
		return // a page: the member is asked
	}
	u, err := url.Parse(p.Location)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("code") != "" {
		t.Fatalf("prompt=select_account with a live session: a code at once (%s), no account choice asked", p.Location)
	} else if q.Get("error") != "account_selection_required" {
		t.Errorf("prompt=select_account: error %q, want a page or account_selection_required", q.Get("error"))
	}
}
