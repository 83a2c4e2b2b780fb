package token

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

func invalidGrantHandler(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.PostForm.Get("refresh_token"), "ssobridge-check-") {
		http.Error(w, "unexpected probe", 500)
		return
	}
	jsonError(w, 400, "invalid_grant", "The refresh token is invalid.")
}

func TestCheck(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(invalidGrantHandler))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := func(h http.HandlerFunc) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s.URL
	}

	tests := []struct {
		name    string
		cfg     func() Config
		ok      bool
		is      error // extra errors.Is expectation
		outputs []string
	}{
		{
			name:    "client recognised",
			cfg:     func() Config { return testConfig(plain(invalidGrantHandler)) },
			ok:      true,
			outputs: []string{"OK   endpoint reachable: HTTP 400", "OK   client recognised", "TLS:           none"},
		},
		{
			name: "client rejected",
			cfg: func() Config {
				return testConfig(plain(func(w http.ResponseWriter, r *http.Request) { jsonError(w, 400, "invalid_client", "") }))
			},
			is:      ErrInvalidClient,
			outputs: []string{"FAIL client rejected (HTTP 400 invalid_client)", "Client applications"},
		},
		{
			name:    "not found",
			cfg:     func() Config { return testConfig(plain(http.NotFound)) },
			is:      legacy.ErrUnavailable,
			outputs: []string{"HTTP 404: there is no token endpoint", "not /api/token"},
		},
		{
			name: "accepts anything",
			cfg: func() Config {
				return testConfig(plain(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, owinBody("x")) }))
			},
			outputs: []string{"ACCEPTED a made-up refresh token"},
		},
		{
			name: "server error",
			cfg: func() Config {
				return testConfig(plain(func(w http.ResponseWriter, r *http.Request) { jsonError(w, 500, "server_error", "") }))
			},
			is:      legacy.ErrUnavailable,
			outputs: []string{"HTTP 500 (server_error)"},
		},
		{
			name: "redirect",
			cfg: func() Config {
				return testConfig(plain(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "https://members.example.org/token?x=1", http.StatusMovedPermanently)
				}))
			},
			outputs: []string{`redirects (HTTP 301) to https://members.example.org/token.`},
		},
		{
			name: "html page",
			cfg: func() Config {
				return testConfig(plain(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }))
			},
			outputs: []string{"HTTP 200 but the answer is not a token response"},
		},
		{
			name: "unsupported grant type",
			cfg: func() Config {
				return testConfig(plain(func(w http.ResponseWriter, r *http.Request) { jsonError(w, 400, "unsupported_grant_type", "") }))
			},
			outputs: []string{"2017 SP F"},
		},
		{
			name:    "connection refused",
			cfg:     func() Config { return testConfig(refusedURL(t)) },
			is:      legacy.ErrUnavailable,
			outputs: []string{"connection refused: nothing listens"},
		},
		{
			name: "timeout",
			cfg: func() Config {
				c := testConfig(plain(slowHandler(5 * time.Second)))
				c.Timeout = 100 * time.Millisecond
				return c
			},
			outputs: []string{"no answer within 100ms"},
		},
		{
			name:    "TLS unknown authority",
			cfg:     func() Config { return testConfig(tlsSrv.URL) },
			outputs: []string{"not signed by a trusted CA", "ams.ca_file"},
		},
		{
			name: "TLS with ca_file",
			cfg: func() Config {
				c := testConfig(tlsSrv.URL)
				c.CAFile = caFile
				return c
			},
			ok:      true,
			outputs: []string{"verified against the system CAs and " + caFile, "OK   client recognised"},
		},
		{
			name: "TLS wrong host name",
			cfg: func() Config {
				c := testConfig(strings.Replace(tlsSrv.URL, "127.0.0.1", "localhost", 1))
				c.CAFile = caFile
				return c
			},
			outputs: []string{"does not name the host"},
		},
		{
			name: "TLS insecure_skip_verify",
			cfg: func() Config {
				c := testConfig(tlsSrv.URL)
				c.InsecureSkipVerify = true
				return c
			},
			ok:      true,
			outputs: []string{"certificate verification OFF", "OK   client recognised"},
		},
		{
			name:    "https to a plain http port",
			cfg:     func() Config { return testConfig(strings.Replace(plain(invalidGrantHandler), "http:", "https:", 1)) },
			outputs: []string{"http:// vs https://"},
		},
		{
			name:    "http to a TLS port",
			cfg:     func() Config { return testConfig(strings.Replace(tlsSrv.URL, "https:", "http:", 1)) },
			outputs: []string{"http:// pointing at an https port"},
		},
		{
			name:    "invalid configuration",
			cfg:     func() Config { return Config{BaseURL: "nope"} },
			outputs: []string{"configuration is invalid", "ams.base_url: must be an absolute http(s) URL", "ams.client_id: required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Check(context.Background(), tt.cfg(), &out)
			t.Logf("output:\n%s", out.String())
			if tt.ok != (err == nil) {
				t.Fatalf("Check = %v", err)
			}
			if err != nil {
				if !errors.Is(err, ErrCheckFailed) {
					t.Errorf("error %v does not wrap ErrCheckFailed", err)
				}
				assertNoSecrets(t, err.Error())
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			assertNoSecrets(t, out.String())
			for _, want := range tt.outputs {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q", want)
				}
			}
		})
	}
}
