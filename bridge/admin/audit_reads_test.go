package admin_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/sso"
)

type listedKeys struct{ failingRetire }

func (listedKeys) Keys(context.Context) ([]sso.KeyInfo, error) {
	return []sso.KeyInfo{{ID: "k1", Algorithm: "RS256", Signing: true}, {ID: "k2", Algorithm: "ES256"}}, nil
}

type listedSAMLKeys struct{}

func (listedSAMLKeys) SAMLKeys(context.Context) ([]admin.SAMLSigningKey, error) {
	return []admin.SAMLSigningKey{{}}, nil
}
func (listedSAMLKeys) RetireSAMLKey(context.Context, string) (*admin.SAMLSigningKey, error) {
	return nil, nil
}

// TestKeyAndLogLevelReadsAudited: the admin API's reads of the signing keys, the SAML signing
// keys and the log level are written to the audit log with the caller, as its other reads
// (tokens, sessions, clients, consents, the audit log itself) are. They were answered without
// a row: who looked at the keys, or probed the log level before changing it, left no trace.
// A read that cannot be answered (nothing managed here) writes none, as the others.
func TestKeyAndLogLevelReadsAudited(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		managed    bool
		status     int
		want       string // in the body
		event      string // "" none
		detail     string
	}{
		{"signing keys", "/admin/keys", true, 200, `"k2"`, "admin.signing_keys_list", "(2)"},
		{"saml signing keys", "/admin/saml/keys", true, 200, `"keys"`, "admin.saml_signing_keys_list", "(1)"},
		{"log level", "/admin/log-level", true, 200, `"level": "warn"`, "admin.log_level_show", "warn"},
		{"signing keys not here", "/admin/keys", false, 400, `"invalid_request"`, "", ""},
		{"saml signing keys not here", "/admin/saml/keys", false, 400, `"invalid_request"`, "", ""},
		{"log level not here", "/admin/log-level", false, 404, `"not_found"`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.managed {
				f.svc.SigningKeyManager = listedKeys{}
				f.svc.SAMLKeyManager = listedSAMLKeys{}
				f.svc.LogLevel = new(slog.LevelVar)
				f.svc.LogLevel.Set(slog.LevelWarn)
			}
			req := httptest.NewRequest("GET", tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			f.svc.Handler(token).ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("GET %s: %d %s, want %d with %s", tc.path, rec.Code, rec.Body, tc.status, tc.want)
			}
			var want []string
			if tc.event != "" {
				want = []string{tc.event}
			}
			if got := f.events(); !slices.Equal(got, want) {
				t.Fatalf("audit: %v, want %v", got, want)
			}
			for _, e := range f.audit {
				if e.Detail != "by admin-api@192.0.2.1: "+tc.detail {
					t.Errorf("audit detail %q, want the caller and %q", e.Detail, tc.detail)
				}
			}
		})
	}
}
