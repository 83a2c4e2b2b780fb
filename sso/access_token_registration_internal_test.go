package sso

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestAccessIDRegistration: ofCurrentRegistration against a client registered at reg, for ids
// of both versions: "a2" ids (created in microseconds) are refused when created before reg
// even within its second; "a1" ids (before session 12, created in seconds) are compared with
// reg's second. Static clients (no registration time) pass. (accessToken refuses unknown
// clients: TestReregisteredClientTokens.)
func TestAccessIDRegistration(t *testing.T) {
	reg := time.Date(2026, 12, 5, 10, 0, 0, 500_000_000, time.UTC)
	cfg := &ClientConfig{ID: "svc", RegisteredAt: reg}
	for _, tc := range []struct {
		name    string
		v1      bool
		created time.Time
		want    bool
	}{
		{"a2 before the registration", false, reg.Add(-time.Minute), false},
		{"a2 in its second, before it", false, reg.Add(-time.Millisecond), false},
		{"a2 at it", false, reg, true},
		{"a2 after it", false, reg.Add(time.Microsecond), true},
		{"a1 the second before", true, reg.Add(-time.Second), false},
		{"a1 in its second", true, reg.Add(-time.Millisecond), true},
	} {
		at := &AccessToken{ClientID: "svc", CreatedAt: tc.created, ExpiresAt: tc.created.Add(time.Hour)}
		id, err := encodeAccessID(at)
		if err != nil {
			t.Fatal(err)
		}
		if tc.v1 {
			id = asV1(t, id, tc.created)
		}
		got, err := decodeAccessID(id)
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.name, err)
		}
		if want := tc.created.Truncate(time.Microsecond); tc.v1 && !got.CreatedAt.Equal(tc.created.Truncate(time.Second)) ||
			!tc.v1 && !got.CreatedAt.Equal(want) {
			t.Fatalf("%s: created %v", tc.name, got.CreatedAt)
		}
		if ok := ofCurrentRegistration(cfg, id, got); ok != tc.want {
			t.Fatalf("%s: ofCurrentRegistration = %v, want %v", tc.name, ok, tc.want)
		}
	}
	at := &AccessToken{ClientID: "svc", CreatedAt: reg.Add(-time.Hour), ExpiresAt: reg}
	id, _ := encodeAccessID(at)
	got, _ := decodeAccessID(id)
	if !ofCurrentRegistration(&ClientConfig{ID: "svc"}, id, got) {
		t.Fatal("a static client's token refused")
	}
}

// asV1 rewrites an "a2" id as the "a1" id of a token created at created (whole seconds).
func asV1(t *testing.T, id string, created time.Time) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(string(raw), accessIDSep)
	f[0], f[8] = accessIDVersionV1, strconv.FormatInt(created.Unix(), 10)
	return b64([]byte(strings.Join(f, accessIDSep)))
}

type oneClient struct{ c *ClientConfig }

func (o oneClient) ClientConfig(_ context.Context, id string) (*ClientConfig, error) {
	if o.c == nil || id != o.c.ID {
		return nil, ErrNotFound
	}
	return o.c, nil
}

// TestAccessTokenOfAnEarlierRegistrationSaysSo (review s12 RV2-2): an access token whose
// client was removed, or removed and registered again (the token was issued to the
// registration before), is refused at userinfo and introspection saying that its client is no
// longer registered, in both cases (before, the registration check answered only "access
// token invalid" and "token inactive", and each caller looked the client up once more).
func TestAccessTokenOfAnEarlierRegistrationSaysSo(t *testing.T) {
	ctx := t.Context()
	now := time.Now()
	at := &AccessToken{ClientID: "svc", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}
	id, err := encodeAccessID(at)
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]*ClientConfig{"removed": nil, "registered again": {ID: "svc", RegisteredAt: now.Add(-time.Minute)}} {
		s := &storage{now: time.Now, clients: oneClient{cfg}}
		if _, _, err := s.accessToken(ctx, id); !errors.Is(err, errClientGone) || !errors.Is(err, errTokenInactive) {
			t.Errorf("%s: accessToken: %v, want errClientGone (an errTokenInactive)", name, err)
		}
		err := s.SetUserinfoFromToken(ctx, new(oidc.UserInfo), id, "svc", "")
		if oe := new(oidc.Error); !errors.As(err, &oe) || oe.ErrorType != oidc.AccessDenied || !strings.Contains(oe.Description, "its client is no longer registered") {
			t.Errorf("%s: userinfo: %v", name, err)
		}
		err = s.SetIntrospectionFromToken(ctx, new(oidc.IntrospectionResponse), id, "svc", "svc")
		if err == nil || !strings.Contains(err.Error(), "its client is no longer registered") {
			t.Errorf("%s: introspection: %v", name, err)
		}
	}
}

// TestAccessTokenOfAnUnusableClient (closing s19, noticed by M): an access token of a client
// that is not served (ClientConfig.Unusable: an id of a member's subject's shape, stored before
// Validate refused one) is inactive: a client_credentials token's sub is that id (RFC 9068
// section 5), which a resource server keyed by sub could take for the member's.
func TestAccessTokenOfAnUnusableClient(t *testing.T) {
	const hexID = "0123456789abcdef0123456789abcdef01234567"
	now := time.Now()
	at := &AccessToken{ClientID: hexID, Subject: "", CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}
	id, err := encodeAccessID(at)
	if err != nil {
		t.Fatal(err)
	}
	s := &storage{now: time.Now, clients: oneClient{&ClientConfig{ID: hexID}}}
	if _, _, err := s.accessToken(t.Context(), id); !errors.Is(err, errTokenInactive) {
		t.Fatalf("accessToken of an unusable client: %v, want inactive", err)
	}
}
