package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestUserinfoOneTokenMethod (review s10 V12; RFC 6750 2, 3.1): an access token is sent one way,
// the Authorization header or the form body; a request that uses both is refused with 400
// invalid_request and a Bearer challenge, as the token endpoint refuses two client
// authentication methods. Each way alone still works. Before, both together were answered 200.
func TestUserinfoOneTokenMethod(t *testing.T) {
	h := newHarness(t)
	at := passwordTokens(t, h, "openid profile")["access_token"].(string)
	form := func(v url.Values, header ...string) *http.Response {
		return h.do(http.MethodPost, sso.PathUserinfo, strings.NewReader(v.Encode()),
			append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
	}
	resp := form(url.Values{"access_token": {at}}, "Authorization", "Bearer "+at)
	body := decodeJSON(t, resp)
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" ||
		!strings.Contains(ch, `error="invalid_request"`) || body["sub"] != nil {
		t.Fatalf("header and form together: %d %v %q", resp.StatusCode, body, ch)
	}
	if resp := form(url.Values{"access_token": {at, at}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the form field twice: %d", resp.StatusCode)
	}
	if resp := form(url.Values{"access_token": {at}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("form alone: %d", resp.StatusCode)
	}
	if resp := h.get(sso.PathUserinfo, "Authorization", "Bearer "+at); resp.StatusCode != http.StatusOK {
		t.Fatalf("header alone: %d", resp.StatusCode)
	}
}
