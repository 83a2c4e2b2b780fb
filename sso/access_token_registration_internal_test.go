package sso

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"
)

type oneClient struct{ c *ClientConfig }

func (o oneClient) ClientConfig(_ context.Context, id string) (*ClientConfig, error) {
	if o.c == nil || id != o.c.ID {
		return nil, ErrNotFound
	}
	return o.c, nil
}

// TestAccessIDRegistration: ofCurrentRegistration against a client registered at reg, for ids
// of both versions: "a2" ids (created in microseconds) are refused when created before reg
// even within its second; "a1" ids (before session 12, created in seconds) are compared with
// reg's second. Static clients (no registration time) and unknown clients pass (the callers
// refuse unknown ones).
func TestAccessIDRegistration(t *testing.T) {
	reg := time.Date(2026, 12, 5, 10, 0, 0, 500_000_000, time.UTC)
	s := &storage{clients: oneClient{&ClientConfig{ID: "svc", RegisteredAt: reg}}}
	ctx := context.Background()
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
		if ok := s.ofCurrentRegistration(ctx, id, got); ok != tc.want {
			t.Fatalf("%s: ofCurrentRegistration = %v, want %v", tc.name, ok, tc.want)
		}
	}
	for _, s := range []*storage{{clients: oneClient{&ClientConfig{ID: "svc"}}}, {clients: oneClient{}}} {
		at := &AccessToken{ClientID: "svc", CreatedAt: reg.Add(-time.Hour), ExpiresAt: reg}
		id, _ := encodeAccessID(at)
		got, _ := decodeAccessID(id)
		if !s.ofCurrentRegistration(ctx, id, got) {
			t.Fatal("a static or unknown client's token refused")
		}
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
