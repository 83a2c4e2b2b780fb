package consumer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/consumer"
)

func idClaimsFor(o *op, sub string) map[string]any {
	return map[string]any{"iss": o.srv.URL, "aud": "app", "sub": sub, "iat": time.Now().Unix(),
		"exp": time.Now().Add(5 * time.Minute).Unix(), "name": "Alice", "preferred_username": "alice"}
}

// TestSignInRefusesLogoutTokens: a captured logout token (same iss, aud, sub, a valid
// signature) must never open a session.
func TestSignInRefusesLogoutTokens(t *testing.T) {
	o := newOP(t)
	c, _ := newConsumer(t, o)
	ctx := context.Background()
	m := o.logoutClaims()
	if _, _, err := c.SignIn(ctx, o.sign(t, "logout+jwt", m)); err == nil {
		t.Fatal("a logout token (typ logout+jwt) opened a session")
	}
	if _, _, err := c.SignIn(ctx, o.sign(t, "", m)); err == nil {
		t.Fatal("a logout token (events claim, no typ) opened a session")
	}
	if _, _, err := c.SignIn(ctx, o.sign(t, "JWT", idClaimsFor(o, "sub-1"))); err != nil {
		t.Fatalf("a real ID token was refused: %v", err)
	}
}

// TestSignInKeepsDeactivation: a member the bridge deactivated stays deactivated when they sign
// in; only a push from the bridge reactivates them.
func TestSignInKeepsDeactivation(t *testing.T) {
	o := newOP(t)
	c, _ := newConsumer(t, o)
	ctx := context.Background()
	if _, _, err := c.SignIn(ctx, o.sign(t, "JWT", idClaimsFor(o, "sub-2"))); err != nil {
		t.Fatal(err)
	}
	if err := c.UpsertUser(ctx, consumer.User{Subject: "sub-2", Login: "alice", Active: false, UpdatedAt: time.Now(), PushedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.SignIn(ctx, o.sign(t, "JWT", idClaimsFor(o, "sub-2"))); !errors.Is(err, consumer.ErrDeactivated) {
		t.Fatalf("deactivated member signed in: %v", err)
	}
	if u, _ := c.User(ctx, "sub-2"); u.Active {
		t.Fatal("sign-in reactivated the member")
	}
	if err := c.UpsertUser(ctx, consumer.User{Subject: "sub-2", Login: "alice", Active: true, UpdatedAt: time.Now(), PushedAt: time.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.SignIn(ctx, o.sign(t, "JWT", idClaimsFor(o, "sub-2"))); err != nil {
		t.Fatalf("reactivated member refused: %v", err)
	}
}
