package sso

import (
	"errors"
	"net/url"
	"slices"
	"testing"
)

// TestTokenTarget: the access token's audience from the grant's resources and the token
// request's targets (RFC 8707 2.2): the request's when within the grant, the grant's (those
// the client still has) when it names none, nil (the client's whole set) for an unbound grant
// naming none; outside the grant, or a grant the client has none of any more, invalid_target.
func TestTokenTarget(t *testing.T) {
	const a, b, c = "https://a.example/", "https://b.example/", "https://c.example/"
	cfg := &ClientConfig{ID: "app", Audiences: []string{a, b, "svc"}}
	for _, tc := range []struct {
		name               string
		granted, requested []string
		want               []string
		refused            bool
	}{
		{"unbound, none", nil, nil, nil, false},
		{"unbound, named", nil, []string{b}, []string{b}, false},
		{"bound, none", []string{a, b}, nil, []string{a, b}, false},
		{"bound, subset", []string{a, b}, []string{b}, []string{b}, false},
		{"bound, all in another order", []string{a, b}, []string{b, a}, []string{b, a}, false},
		{"bound, outside", []string{a}, []string{b}, nil, true},
		{"bound, a client-id audience outside", []string{a}, []string{"svc"}, nil, true},
		{"bound, one taken from the client", []string{a, c}, nil, []string{a}, false},
		{"bound, the taken one asked", []string{a, c}, []string{c}, nil, true},
		{"bound, all taken from the client", []string{c}, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tokenTarget(cfg, tc.granted, tc.requested)
			var ge *GrantError
			if tc.refused {
				if !errors.As(err, &ge) || ge.Code != "invalid_target" || ge.Status != 0 {
					t.Fatalf("got %q, %v; want invalid_target", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestRequestedTarget: a token request's resource and audience values, checked against the
// client's audiences (its id when it has none), each once, resources first.
func TestRequestedTarget(t *testing.T) {
	const a, b = "https://a.example/", "https://b.example/"
	withAud := &ClientConfig{ID: "app", Audiences: []string{a, b, "svc"}}
	own := &ClientConfig{ID: "app"}
	for _, tc := range []struct {
		name    string
		cfg     *ClientConfig
		form    url.Values
		want    []string
		refused bool
	}{
		{"none", withAud, url.Values{}, nil, false},
		{"resources", withAud, url.Values{"resource": {b, a}}, []string{b, a}, false},
		{"repeated", withAud, url.Values{"resource": {a, a, b, a}}, []string{a, b}, false},
		{"both kinds", withAud, url.Values{"resource": {a}, "audience": {"svc", a}}, []string{a, "svc"}, false},
		{"own id", own, url.Values{"audience": {"app"}}, []string{"app"}, false},
		{"own id not among audiences", withAud, url.Values{"audience": {"app"}}, nil, true},
		{"resource not a URI", withAud, url.Values{"resource": {"svc"}}, nil, true},
		{"resource with fragment", withAud, url.Values{"resource": {a + "#x"}}, nil, true},
		{"unknown", withAud, url.Values{"audience": {"other"}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range tc.form {
				form[k] = slices.Clone(v)
			}
			got, err := requestedTarget(tc.cfg, form)
			if (err != nil) != tc.refused || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q (refused %v)", got, err, tc.want, tc.refused)
			}
			for k, v := range tc.form {
				if !slices.Equal(form[k], v) {
					t.Fatalf("the form's %s changed: %q", k, form[k])
				}
			}
		})
	}
}

// TestRefreshTokenResources: a family's Audience is its grant's resources unless it is its
// client's id (families before session 19, grants without resource).
func TestRefreshTokenResources(t *testing.T) {
	for _, tc := range []struct {
		aud  []string
		want []string
	}{
		{nil, nil},
		{[]string{"app"}, nil},
		{[]string{"https://a.example/"}, []string{"https://a.example/"}},
		{[]string{"https://a.example/", "https://b.example/"}, []string{"https://a.example/", "https://b.example/"}},
	} {
		if got := (&RefreshToken{ClientID: "app", Audience: tc.aud}).Resources(); !slices.Equal(got, tc.want) {
			t.Errorf("Audience %q: Resources %q, want %q", tc.aud, got, tc.want)
		}
	}
}
