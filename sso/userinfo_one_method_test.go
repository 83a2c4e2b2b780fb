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

// TestUserinfoTokenNameInAnotherCase: op's decoder reads access_token in any case, so an access
// token named Access_Token in the URL is still an access token in the URL (refused: RFC 6750
// 2.3), and one in the body next to another in another case is the parameter twice (refused,
// as access_token twice is). Before, op answered both 200 (the URL's token was used; the body's
// pair was taken in map order).
func TestUserinfoTokenNameInAnotherCase(t *testing.T) {
	h := newHarness(t)
	at := passwordTokens(t, h, "openid profile")["access_token"].(string)
	resp := h.get(sso.PathUserinfo + "?Access_Token=" + url.QueryEscape(at))
	if body := decodeJSON(t, resp); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" || body["sub"] != nil {
		t.Errorf("Access_Token in the URL: %d %v", resp.StatusCode, body)
	}
	resp = h.do(http.MethodPost, sso.PathUserinfo, strings.NewReader(url.Values{"access_token": {at}, "ACCESS_TOKEN": {at}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	if body := decodeJSON(t, resp); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" || body["sub"] != nil {
		t.Errorf("access_token and ACCESS_TOKEN in the body: %d %v", resp.StatusCode, body)
	}
	resp = h.do(http.MethodPost, sso.PathUserinfo, strings.NewReader(url.Values{"Access_Token": {at}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Bearer "+at)
	if body := decodeJSON(t, resp); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("Access_Token in the body with the Authorization header: %d %v", resp.StatusCode, body)
	}
}
