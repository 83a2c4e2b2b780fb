package mfa

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// f6FaultStore is the factor store whose user-handle look-up or passkey read answers its error.
type f6FaultStore struct {
	store.FactorStore
	handleErr, credsErr error
}

func (s f6FaultStore) SubjectByUserHandle(ctx context.Context, handle []byte) (string, error) {
	if s.handleErr != nil {
		return "", s.handleErr
	}
	return s.FactorStore.SubjectByUserHandle(ctx, handle)
}

func (s f6FaultStore) WebAuthnCredentials(ctx context.Context, subject string) ([]*store.WebAuthnCredential, error) {
	if s.credsErr != nil {
		return nil, s.credsErr
	}
	return s.FactorStore.WebAuthnCredentials(ctx, subject)
}

// Review s25 Y-9: a store read failing during a passkey sign-in's verification (the
// user-handle look-up, the member's passkeys) was wrapped as ErrPasskey, so the member was
// told "That passkey was not accepted" (401) and the operator saw an Info "refused". A fault
// is the server's: not ErrPasskey, the store's error kept (the router answers 500, or 503 for
// sso.ErrUnavailable). A handle the store does not know stays a refusal.
func TestF6PasskeySignInStoreFaultIsNotARefusal(t *testing.T) {
	locked := errors.New("sqlite: database is locked")
	for _, tc := range []struct {
		name                string
		handleErr, credsErr error
		unknownKey          bool
		wantRefused         bool
		wantErr             error
	}{
		{name: "user-handle look-up fails", handleErr: locked, wantErr: locked},
		{name: "store unavailable", handleErr: fmt.Errorf("read: %w", sso.ErrUnavailable), wantErr: sso.ErrUnavailable},
		{name: "passkeys read fails", credsErr: locked, wantErr: locked},
		{name: "handle unknown to the store", unknownKey: true, wantRefused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := passkeyService(t)
			key := addSoftKey(t, s, "sub-alice")
			if tc.unknownKey {
				key = softKey{bridgetest.NewPasskey(t, []byte("a handle nobody has, 32 bytes..."))}
			}
			s.Store = f6FaultStore{FactorStore: s.Store, handleErr: tc.handleErr, credsErr: tc.credsErr}
			cer, err := s.BeginDiscoverable()
			if err != nil {
				t.Fatal(err)
			}
			sub, _, err := s.FinishDiscoverable(ctx, cer.Session, key.assert(t, cer.Session), "192.0.2.7")
			if err == nil || sub != "" {
				t.Fatalf("FinishDiscoverable: %q %v, want an error", sub, err)
			}
			if refused := errors.Is(err, ErrPasskey); refused != tc.wantRefused {
				t.Errorf("FinishDiscoverable's error %q: passkey refused %v, want %v", err, refused, tc.wantRefused)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("FinishDiscoverable's error %q does not keep the store's %q", err, tc.wantErr)
			}
		})
	}
}
