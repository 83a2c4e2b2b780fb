package saml

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestEmailNameIDNeedsEmailVerified (review s19 X19-10): name_id_format email vouches to the
// SP for an address iMIS lets the member type. Register refuses it unless the configuration
// states the AMS verifies addresses (Registry.EmailVerified); an SP registered with it under
// such a configuration is unusable (UnusableError, listed by Unusable) once the statement is
// gone, and usable again when it is back.
func TestEmailNameIDNeedsEmailVerified(t *testing.T) {
	ctx := t.Context()
	_, regs := sqliteRegistries(t, 2)
	strict, trusting := regs[0], regs[1]
	trusting.EmailVerified = true
	jobs := config.SAMLServiceProvider{ID: "jobs", NameIDFormat: config.SAMLNameIDEmail}
	md := spMetadata(t, "https://jobs.example.org")
	if _, err := strict.Register(ctx, jobs, md, time.Now()); !errors.Is(err, config.ErrUnverifiedEmailNameID) {
		t.Fatalf("register without email_verified: %v", err)
	}
	if _, err := trusting.Register(ctx, jobs, md, time.Now()); err != nil {
		t.Fatalf("register with email_verified: %v", err)
	}
	if err := strict.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := strict.ByID(ctx, "jobs"); !errors.Is(err, ErrUnusable) || !errors.Is(err, config.ErrUnverifiedEmailNameID) {
		t.Fatalf("stored email SP without email_verified: %v; want unusable", err)
	}
	if u, err := strict.Unusable(ctx); err != nil || len(u) != 1 || u[0].ID != "jobs" {
		t.Fatalf("Unusable: %+v, %v", u, err)
	}
	if _, err := trusting.ByID(ctx, "jobs"); err != nil {
		t.Fatalf("stored email SP with email_verified: %v", err)
	}
	if _, err := strict.Register(ctx, config.SAMLServiceProvider{ID: "lms"}, spMetadata(t, "https://lms.example.org"), time.Now()); err != nil {
		t.Fatalf("a persistent SP without email_verified: %v", err)
	}
}
