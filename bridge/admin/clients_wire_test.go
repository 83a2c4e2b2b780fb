package admin_test

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// fullClientBody sets every field a client registration has (secret_hash too: accepted and
// ignored, a new client gets a generated secret).
const fullClientBody = `{"id":"full","name":"Full App","secret_hash":"sha256:ignored","public":false,` +
	`"redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["https://a.example/bye"],` +
	`"grant_types":["authorization_code","refresh_token"],"scopes":["groups"],"trusted":true,` +
	`"id_token_signing_alg":"ES256","omit_id_token_on_refresh":true,"web_origins":["https://a.example"],` +
	`"access_token_format":"jwt","audiences":["api"],"backchannel_logout_uri":"https://a.example/bcl",` +
	`"frontchannel_logout_uri":"https://a.example/fcl","initiate_login_uri":"https://a.example/login","mfa":"required"}`

var generatedSecret = regexp.MustCompile(`"client_secret": "[^"]+"`)

// TestClientBodiesOnTheWire pins the admin API's client bodies byte for byte (the CLI prints
// the same JSON): what a client registration accepts and what create, show and list answer.
func TestClientBodiesOnTheWire(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/admin/clients", fullClientBody, wantCreated},
		{"POST", "/admin/clients", `{"id":"pub","public":true,"redirect_uris":["https://p.example/cb"]}`, wantCreatedPublic},
		{"GET", "/admin/clients/full", "", wantShown},
		{"GET", "/admin/clients", "", wantListed},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+token)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		f.svc.Handler(token).ServeHTTP(rec, req)
		got := generatedSecret.ReplaceAllString(rec.Body.String(), `"client_secret": "SECRET"`)
		if got != tc.want {
			t.Errorf("%s %s: %d\n%s\nwant\n%s", tc.method, tc.path, rec.Code, got, tc.want)
		}
	}
}

const wantCreated = `{
  "id": "full",
  "name": "Full App",
  "public": false,
  "redirect_uris": [
    "https://a.example/cb"
  ],
  "post_logout_redirect_uris": [
    "https://a.example/bye"
  ],
  "grant_types": [
    "authorization_code",
    "refresh_token"
  ],
  "scopes": [
    "groups"
  ],
  "trusted": true,
  "id_token_signing_alg": "ES256",
  "omit_id_token_on_refresh": true,
  "web_origins": [
    "https://a.example"
  ],
  "access_token_format": "jwt",
  "audiences": [
    "api"
  ],
  "backchannel_logout_uri": "https://a.example/bcl",
  "frontchannel_logout_uri": "https://a.example/fcl",
  "initiate_login_uri": "https://a.example/login",
  "mfa": "required",
  "has_secret": true,
  "source": "store",
  "client_secret": "SECRET"
}
`
const wantCreatedPublic = `{
  "id": "pub",
  "name": "",
  "public": true,
  "redirect_uris": [
    "https://p.example/cb"
  ],
  "grant_types": [
    "authorization_code",
    "refresh_token"
  ],
  "trusted": false,
  "id_token_signing_alg": "RS256",
  "access_token_format": "opaque",
  "has_secret": false,
  "source": "store"
}
`
const wantShown = `{
  "id": "full",
  "name": "Full App",
  "public": false,
  "redirect_uris": [
    "https://a.example/cb"
  ],
  "post_logout_redirect_uris": [
    "https://a.example/bye"
  ],
  "grant_types": [
    "authorization_code",
    "refresh_token"
  ],
  "scopes": [
    "groups"
  ],
  "trusted": true,
  "id_token_signing_alg": "ES256",
  "omit_id_token_on_refresh": true,
  "web_origins": [
    "https://a.example"
  ],
  "access_token_format": "jwt",
  "audiences": [
    "api"
  ],
  "backchannel_logout_uri": "https://a.example/bcl",
  "frontchannel_logout_uri": "https://a.example/fcl",
  "initiate_login_uri": "https://a.example/login",
  "mfa": "required",
  "has_secret": true,
  "source": "store"
}
`
const wantListed = `{
  "clients": [
    {
      "id": "web",
      "name": "Web",
      "public": false,
      "redirect_uris": null,
      "trusted": false,
      "has_secret": true,
      "source": "config"
    },
    {
      "id": "dyn",
      "name": "Dynamic",
      "public": false,
      "redirect_uris": [
        "https://dyn.example/cb"
      ],
      "trusted": false,
      "has_secret": true,
      "source": "store"
    },
    {
      "id": "full",
      "name": "Full App",
      "public": false,
      "redirect_uris": [
        "https://a.example/cb"
      ],
      "post_logout_redirect_uris": [
        "https://a.example/bye"
      ],
      "grant_types": [
        "authorization_code",
        "refresh_token"
      ],
      "scopes": [
        "groups"
      ],
      "trusted": true,
      "id_token_signing_alg": "ES256",
      "omit_id_token_on_refresh": true,
      "web_origins": [
        "https://a.example"
      ],
      "access_token_format": "jwt",
      "audiences": [
        "api"
      ],
      "backchannel_logout_uri": "https://a.example/bcl",
      "frontchannel_logout_uri": "https://a.example/fcl",
      "initiate_login_uri": "https://a.example/login",
      "mfa": "required",
      "has_secret": true,
      "source": "store"
    },
    {
      "id": "pub",
      "name": "",
      "public": true,
      "redirect_uris": [
        "https://p.example/cb"
      ],
      "grant_types": [
        "authorization_code",
        "refresh_token"
      ],
      "trusted": false,
      "id_token_signing_alg": "RS256",
      "access_token_format": "opaque",
      "has_secret": false,
      "source": "store"
    }
  ]
}
`
