package mfa

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// o26FaultStore is the factor store whose reads and writes of a passkey used as the second
// factor answer their error while set.
type o26FaultStore struct {
	store.FactorStore
	handleErr, credsErr, useErr error
}

func (s o26FaultStore) MFAUserHandle(ctx context.Context, subject string, fresh []byte) ([]byte, error) {
	if s.handleErr != nil {
		return nil, s.handleErr
	}
	return s.FactorStore.MFAUserHandle(ctx, subject, fresh)
}

func (s o26FaultStore) WebAuthnCredentials(ctx context.Context, subject string) ([]*store.WebAuthnCredential, error) {
	if s.credsErr != nil {
		return nil, s.credsErr
	}
	return s.FactorStore.WebAuthnCredentials(ctx, subject)
}

func (s o26FaultStore) UseWebAuthnCredential(ctx context.Context, c *store.WebAuthnCredential, prevCount uint32) error {
	if s.useErr != nil {
		return s.useErr
	}
	return s.FactorStore.UseWebAuthnCredential(ctx, c, prevCount)
}

// Session 26 (O), after review s25 Y-9 (which mended the passkey sign-in): a passkey used as
// the second factor (FinishLogin at the second-factor step) whose store read or write fails is
// the server's fault: not ErrPasskey ("That passkey was not accepted", 401), the store's error
// kept (the router answers 500/503), and no mfa.failure row counted against the member. A
// lost compare-and-set on the sign count stays a refusal.
func TestO26PasskeyStepStoreFaultIsNotARefusal(t *testing.T) {
	locked := errors.New("sqlite: database is locked")
	for _, tc := range []struct {
		name                        string
		handleErr, credsErr, useErr error
		wantRefused                 bool
		wantErr                     error
	}{
		{name: "user handle read fails", handleErr: locked, wantErr: locked},
		{name: "passkeys read fails", credsErr: locked, wantErr: locked},
		{name: "store unavailable", credsErr: fmt.Errorf("read: %w", sso.ErrUnavailable), wantErr: sso.ErrUnavailable},
		{name: "sign count write fails", useErr: locked, wantErr: locked},
		{name: "sign count moved meanwhile", useErr: sso.ErrConflict, wantRefused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := passkeyService(t)
			var failures []string
			s.Audit = func(_ context.Context, e *store.AuditEvent) {
				if e.Event == "mfa.failure" {
					failures = append(failures, e.Detail)
				}
			}
			key := addSoftKey(t, s, "sub-alice")
			cer, err := s.BeginLogin(ctx, "sub-alice")
			if err != nil {
				t.Fatal(err)
			}
			s.Store = o26FaultStore{FactorStore: s.Store, handleErr: tc.handleErr, credsErr: tc.credsErr, useErr: tc.useErr}
			method, err := s.FinishLogin(ctx, "sub-alice", cer.Session, key.assert(t, cer.Session), "192.0.2.7")
			if err == nil || method != "" {
				t.Fatalf("FinishLogin: %q %v, want an error", method, err)
			}
			if refused := errors.Is(err, ErrPasskey); refused != tc.wantRefused {
				t.Errorf("FinishLogin's error %q: passkey refused %v, want %v", err, refused, tc.wantRefused)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("FinishLogin's error %q does not keep the store's %q", err, tc.wantErr)
			}
			if counted := len(failures) > 0; counted != tc.wantRefused {
				t.Errorf("mfa.failure rows %q, want some only for a refusal", failures)
			}
		})
	}
}
