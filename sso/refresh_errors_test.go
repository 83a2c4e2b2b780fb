package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRefreshErrorsSayWhy (review s9 Z10): refresh-grant errors carry an error_description
// that says what is wrong, not an empty string.
func TestRefreshErrorsSayWhy(t *testing.T) {
	h := newHarness(t)
	rt := passwordTokens(t, h, "openid offline_access")["refresh_token"].(string)
	for _, tc := range []struct {
		name, basic, scope, code string
	}{
		{"another client's refresh token", "tv:" + webSecret, "", "invalid_grant"},
		{"scope beyond the grant", "web:" + webSecret, "openid profile", "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			if tc.scope != "" {
				form.Set("scope", tc.scope)
			}
			status, body, _ := h.token(form, tc.basic)
			desc, _ := body["error_description"].(string)
			if status != http.StatusBadRequest || body["error"] != tc.code || strings.TrimSpace(desc) == "" {
				t.Fatalf("%d %v", status, body)
			}
		})
	}
}
