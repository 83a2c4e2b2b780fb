package sso_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// Rows written by the code before clientRecord existed (it marshalled ClientConfig itself):
// they must still load, and re-encoding them must give the same bytes.
var oldRows = []struct {
	id, json string
	want     sso.ClientConfig
}{
	{"full", `{"id":"full","name":"Full App","secret_hash":"sha256:043a718774c572bd8a25adbeb1bfcd5c0256ae11cecf9f9c3f925d0e52beaf89","public":false,"redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["https://a.example/bye"],"grant_types":["authorization_code","refresh_token"],"scopes":["groups"],"trusted":true,"id_token_signing_alg":"ES256","omit_id_token_on_refresh":true,"web_origins":["https://a.example"],"access_token_format":"jwt","audiences":["api"],"backchannel_logout_uri":"https://a.example/bcl","frontchannel_logout_uri":"https://a.example/fcl","initiate_login_uri":"https://a.example/login"}`,
		sso.ClientConfig{ID: "full", Name: "Full App", SecretHash: "sha256:043a718774c572bd8a25adbeb1bfcd5c0256ae11cecf9f9c3f925d0e52beaf89",
			RedirectURIs: []string{"https://a.example/cb"}, PostLogoutRedirectURIs: []string{"https://a.example/bye"},
			GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"groups"}, Trusted: true,
			IDTokenSigningAlg: "ES256", OmitIDTokenOnRefresh: true, WebOrigins: []string{"https://a.example"},
			AccessTokenFormat: "jwt", Audiences: []string{"api"}, BackchannelLogoutURI: "https://a.example/bcl",
			FrontchannelLogoutURI: "https://a.example/fcl", InitiateLoginURI: "https://a.example/login"}},
	{"spa", `{"id":"spa","name":"SPA","public":true,"redirect_uris":["https://s.example/cb"],"grant_types":["authorization_code"],"trusted":false,"id_token_signing_alg":"RS256","access_token_format":"opaque"}`,
		sso.ClientConfig{ID: "spa", Name: "SPA", Public: true, RedirectURIs: []string{"https://s.example/cb"},
			GrantTypes: []string{"authorization_code"}, IDTokenSigningAlg: "RS256", AccessTokenFormat: "opaque"}},
}

func TestStoredClientOldRowsLoad(t *testing.T) {
	for _, row := range oldRows {
		t.Run(row.id, func(t *testing.T) {
			got, err := sso.DecodeClient(&sso.StoredClient{ID: row.id, Config: []byte(row.json)})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, row.want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", *got, row.want)
			}
			sc, err := sso.EncodeClient(got, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if string(sc.Config) != row.json {
				t.Fatalf("re-encoded\n%s\nwant\n%s", sc.Config, row.json)
			}
		})
	}
}

// TestRegistryLoadsOldRows: the registry serves dynamic clients from rows the old code wrote.
func TestRegistryLoadsOldRows(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	created := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, row := range oldRows {
		if err := st.CreateClient(ctx, &sso.StoredClient{ID: row.id, Config: []byte(row.json), CreatedAt: created, UpdatedAt: created}); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := sso.NewRegistry(ctx, st, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range oldRows {
		got, err := reg.ClientConfig(ctx, row.id)
		if err != nil {
			t.Fatal(err)
		}
		want := row.want
		want.RegisteredAt = created // the row's CreatedAt
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("%s: served\n%+v\nwant\n%+v", row.id, *got, row.want)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("%s: %v", row.id, err)
		}
	}
}

// TestStoredClientKeepsEveryField: every field is set, stored and read back (the conversion
// between ClientConfig and its record already refuses to compile when their fields differ).
func TestStoredClientKeepsEveryField(t *testing.T) {
	var c sso.ClientConfig
	registered := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(name + "-value")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{name + "-1", name + "-2"}))
		case reflect.Struct:
			if name != "RegisteredAt" {
				t.Fatalf("field %s: not handled by this test", name)
			}
			// Not in the record's JSON: the row's CreatedAt, which EncodeClient sets.
			f.Set(reflect.ValueOf(registered))
		default:
			t.Fatalf("field %s: kind %s not handled by this test", name, f.Kind())
		}
	}
	sc, err := sso.EncodeClient(&c, registered)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sc.Config), "egistered") {
		t.Fatalf("the registration time is in the record: %s", sc.Config)
	}
	got, err := sso.DecodeClient(sc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, c) {
		t.Fatalf("stored and loaded\n%+v\nwant\n%+v", *got, c)
	}
}
