package saml

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// storedSettings reads the SP entity's stored settings.
func storedSettings(t *testing.T, st SPStore, entity string) config.SAMLServiceProvider {
	t.Helper()
	recs, err := st.SAMLServiceProviders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.EntityID == entity {
			var s config.SAMLServiceProvider
			if err := json.Unmarshal(rec.Settings, &s); err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	t.Fatalf("%s is not stored", entity)
	return config.SAMLServiceProvider{}
}

func ptr[T any](v T) *T { return &v }

// TestRegistryChangeSettings (brief S5 2, closing s21/s22 M3): a registered SP's name_id_format
// and allow_insecure_soap_slo change in place, checked as a registration checks them; the SP
// keeps its metadata and its places in sessions (the NameID stored there is the one it was
// given), the registry serves the new settings at once; a change to nothing writes nothing; an
// SP of the configuration file, an unknown one, an unknown format and e-mail without
// email_verified are refused, and nothing is written.
func TestRegistryChangeSettings(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 1)
	reg := regs[0]
	const lms = "https://lms.example.org/saml/metadata"
	md := spMetadata(t, "https://lms.example.org")
	if _, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "lms", Name: "Learning Portal", NameIDFormat: "persistent"}, md, time.Now()); err != nil {
		t.Fatal(err)
	}
	liveSession(t, st, "s1")
	if err := st.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: "s1", SP: lms, NameID: "subject-s1",
		NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", SessionIndex: "ix", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	static, err := NewRegistry(config.SAMLConfig{ServiceProviders: []config.SAMLServiceProvider{{ID: "cfg", EntityID: "https://cfg.example.org",
		ACSURLs: []string{"https://cfg.example.org/acs"}}}}, st, nil)
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		reg  *Registry
		sp   string
		c    SettingsChange
		want error
	}{
		{"e-mail without email_verified", reg, "lms", SettingsChange{NameIDFormat: ptr(config.SAMLNameIDEmail)}, config.ErrUnverifiedEmailNameID},
		{"unknown format", reg, "lms", SettingsChange{NameIDFormat: ptr("transient")}, ErrInvalidSetting},
		{"nothing given", reg, "lms", SettingsChange{}, ErrInvalidSetting},
		{"unknown SP", reg, "nope", SettingsChange{NameIDFormat: ptr("persistent")}, sso.ErrNotFound},
		{"configuration file's SP", static, "cfg", SettingsChange{NameIDFormat: ptr("persistent")}, ErrInConfigFile},
	} {
		if _, err := c.reg.ChangeSettings(ctx, c.sp, c.c); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if s := storedSettings(t, st, lms); s.NameIDFormat != "persistent" || s.AllowInsecureSOAPSLO {
		t.Fatalf("a refused change wrote %+v", s)
	}

	got, err := reg.ChangeSettings(ctx, "lms", SettingsChange{NameIDFormat: ptr("")}) // "" is persistent
	if err != nil || !got.Unchanged {
		t.Fatalf("the stored format again: %+v, %v; want unchanged", got, err)
	}

	reg.EmailVerified = true
	got, err = reg.ChangeSettings(ctx, lms, SettingsChange{NameIDFormat: ptr(config.SAMLNameIDEmail), AllowInsecureSOAPSLO: ptr(true)})
	if err != nil {
		t.Fatalf("change: %v", err)
	}
	want := []string{"name_id_format: persistent -> email", "allow_insecure_soap_slo: false -> true"}
	if got.Unchanged || got.ID != "lms" || len(got.Changes) != 2 || got.Changes[0] != want[0] || got.Changes[1] != want[1] || got.Unusable != nil {
		t.Fatalf("change: %+v, want %q", got, want)
	}
	s := storedSettings(t, st, lms)
	if s.NameIDFormat != config.SAMLNameIDEmail || !s.AllowInsecureSOAPSLO || s.ID != "lms" || s.Name != "Learning Portal" {
		t.Fatalf("stored settings %+v", s)
	}
	if !bytes.Equal(storedMetadata(t, st, lms), md) {
		t.Fatal("the change rewrote the metadata")
	}
	sp, err := reg.ByID(ctx, "lms")
	if err != nil || sp.Settings.NameIDFormat != config.SAMLNameIDEmail {
		t.Fatalf("the registry serves %+v, %v; want the new format", sp, err)
	}
	if ps, err := st.SAMLParticipants(ctx, "s1"); err != nil || len(ps) != 1 || ps[0].NameID != "subject-s1" {
		t.Fatalf("its place in the session: %+v, %v; want the NameID it was given", ps, err)
	}
}

// TestRegistryChangeSettingsRace: two changes of one SP read the same record; the one stored
// first wins, the other is refused (ErrReplacedMeanwhile) and stores nothing.
func TestRegistryChangeSettingsRace(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 2)
	winner := regs[1]
	const lms = "https://lms.example.org/saml/metadata"
	if _, err := regs[0].Register(ctx, config.SAMLServiceProvider{ID: "lms"}, spMetadata(t, "https://lms.example.org"), time.Now()); err != nil {
		t.Fatal(err)
	}
	racing := &replaceFirst{SPStore: st, other: func(ctx context.Context) error {
		_, err := winner.ChangeSettings(ctx, "lms", SettingsChange{AllowInsecureSOAPSLO: ptr(true)})
		return err
	}}
	loser, err := NewRegistry(config.SAMLConfig{}, racing, nil)
	if err != nil {
		t.Fatal(err)
	}
	loser.EmailVerified = true
	_, err = loser.ChangeSettings(ctx, "lms", SettingsChange{NameIDFormat: ptr(config.SAMLNameIDEmail)})
	if !errors.Is(err, ErrReplacedMeanwhile) || !errors.Is(err, sso.ErrConflict) {
		t.Fatalf("the change that lost: %v; want ErrReplacedMeanwhile", err)
	}
	if s := storedSettings(t, st, lms); s.NameIDFormat == config.SAMLNameIDEmail || !s.AllowInsecureSOAPSLO {
		t.Fatalf("stored %+v; want the winner's change alone", s)
	}
}
