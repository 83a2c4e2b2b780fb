package sso_test

import (
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestClientAuthOneAnswerForUnknownAndWrong (review s25 X-10; RFC 6749 5.2 invalid_client:
// "Client authentication failed (e.g., unknown client, no client authentication included, or
// unsupported authentication method)", 401 with a WWW-Authenticate challenge when the client
// used the Authorization header): at the token, introspection and revocation endpoints an
// unknown client id and a known confidential client with a wrong or missing secret get the same
// answer, byte for byte: status, challenge and body. Before, an unknown id read "unknown client
// or wrong credentials" and a known one "client authentication failed", telling which ids exist,
// which the dummy hash's equal work is there to hide.
func TestClientAuthOneAnswerForUnknownAndWrong(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{sso.PathToken, sso.PathIntrospect, sso.PathRevoke} {
		var first string
		for _, tc := range []struct {
			name, basic string
			form        url.Values
		}{
			{"unknown id, Basic", "nobody:" + webSecret, nil},
			{"known id, wrong secret, Basic", "web:wrong-secret", nil},
			{"unknown id, post", "", url.Values{"client_id": {"nobody"}, "client_secret": {webSecret}}},
			{"known id, wrong secret, post", "", url.Values{"client_id": {"web"}, "client_secret": {"wrong-secret"}}},
			{"unknown id, no secret", "", url.Values{"client_id": {"nobody"}}},
			{"known confidential id, no secret", "", url.Values{"client_id": {"web"}}},
		} {
			form := url.Values{"grant_type": {"client_credentials"}, "token": {"x"}}
			for k, v := range tc.form {
				form[k] = v
			}
			resp := h.post(path, form, tc.basic)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			got := resp.Status + " " + resp.Header.Get("WWW-Authenticate") + " " + string(body)
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: %s, want 401 invalid_client with a challenge", path, tc.name, got)
			}
			if first == "" {
				first = got
				if want := `"error_description":"client authentication failed"`; !strings.Contains(got, want) {
					t.Errorf("%s %s: %s, want %s", path, tc.name, got, want)
				}
			} else if got != first {
				t.Errorf("%s %s:\n%s\nwant the same answer as an unknown id:\n%s", path, tc.name, got, first)
			}
		}
	}
}
