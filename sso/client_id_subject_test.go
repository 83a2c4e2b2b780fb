package sso_test

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestClientIDNotSubjectShaped (review s19, noticed): a client_credentials token's sub is its
// client id (RFC 9068 section 5), so an id of a member's subject's shape (40 hexadecimal
// characters) is refused, the field named; other ids, 39 or 41 hex characters included, pass.
func TestClientIDNotSubjectShaped(t *testing.T) {
	for id, refused := range map[string]bool{
		"0123456789abcdef0123456789abcdef01234567":  true,
		"0123456789ABCDEF0123456789abcdef01234567":  true,
		"0123456789abcdef0123456789abcdef0123456":   false,
		"0123456789abcdef0123456789abcdef012345678": false,
		"0123456789abcdef0123456789abcdef0123456g":  false,
		"web": false,
		"service-0123456789abcdef0123456789abcdef01": false,
	} {
		c := sso.ClientConfig{ID: id, Name: "App", SecretHash: "sha256:00", RedirectURIs: []string{"https://app.example/cb"}}
		c.FillDefaults()
		err := c.Validate()
		if got := err != nil && strings.Contains(err.Error(), "clients[\""+id+"\"].id") && strings.Contains(err.Error(), "subject"); got != refused {
			t.Errorf("id %q: %v, want refused %v", id, err, refused)
		}
	}
}
