package rp

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// css is shorthand for a CSS selector.
type css = chromedp.CSS

// audHas reports whether an aud claim (a string or a list) names clientID.
func audHas(aud any, clientID string) bool {
	switch a := aud.(type) {
	case string:
		return a == clientID
	case []any:
		return slices.Contains(a, any(clientID))
	}
	return false
}

// strList turns a JSON list of strings into a sorted []string (nil for anything else).
func strList(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	slices.Sort(out)
	return out
}

// str is a JSON value as a string ("" for nil).
func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// authorizeLog records the authorization requests the browser sends to the bridge, as the RP
// built them.
type authorizeLog struct {
	mu   sync.Mutex
	urls []*url.URL
}

// recordAuthorize starts recording the browser's requests to issuer+"/authorize".
func recordAuthorize(t *testing.T, ctx context.Context, issuer string) *authorizeLog {
	t.Helper()
	l := &authorizeLog{}
	err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || !strings.HasPrefix(e.Request.URL, issuer+"/authorize?") {
			return
		}
		if u, err := url.Parse(e.Request.URL); err == nil {
			l.mu.Lock()
			l.urls = append(l.urls, u)
			l.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen to the browser: %v", err)
	}
	return l
}

// checkPKCE asserts that the RP's last authorization request was a code request for clientID
// with an S256 PKCE challenge, and returns its query.
func (l *authorizeLog) checkPKCE(t *testing.T, clientID string) url.Values {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.urls) == 0 {
		t.Fatal("the browser sent no authorization request to the bridge")
	}
	q := l.urls[len(l.urls)-1].Query()
	if q.Get("client_id") != clientID || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		t.Fatalf("authorization request: client_id %q, response_type %q, code_challenge_method %q, code_challenge %q",
			q.Get("client_id"), q.Get("response_type"), q.Get("code_challenge_method"), q.Get("code_challenge"))
	}
	return q
}
