package saml

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// storedMetadata is the stored metadata of the SP entity.
func storedMetadata(t *testing.T, st SPStore, entity string) []byte {
	t.Helper()
	recs, err := st.SAMLServiceProviders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.EntityID == entity {
			return rec.Metadata
		}
	}
	t.Fatalf("%s is not stored", entity)
	return nil
}

// TestRegistryReplaceMetadata (brief s20 M2 item 1, review s19 X19-9): a registered SP gets its
// current metadata in place, by id or by entity id: checked as a registration checks it, of the
// same entity id; it keeps its id, settings and places in sessions, and another replica serves
// the new metadata once it reads the records. Metadata of another entity, expired, with an http
// ACS, or refused for the SP's settings (an e-mail NameID without email_verified, encryption
// without a certificate) is refused and changes nothing; the same metadata changes nothing; an
// SP of the configuration file, or one never registered, is refused. Before, the only way was
// remove (dropping its members' single logout) and register again.
func TestRegistryReplaceMetadata(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 2)
	reg, replica := regs[0], regs[1]
	const (
		lmsBase  = "https://lms.example.org"
		jobsBase = "https://jobs.example.org"
		lms      = lmsBase + "/saml/metadata" // the entity id of spMetadata's SP
		jobs     = jobsBase + "/saml/metadata"
	)
	first := spMetadata(t, lmsBase)
	if _, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "lms", Name: "LMS", EncryptAssertions: true}, first, time.Now()); err != nil {
		t.Fatal(err)
	}
	reg.EmailVerified = true
	if _, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "jobs", NameIDFormat: config.SAMLNameIDEmail}, spMetadata(t, jobsBase), time.Now()); err != nil {
		t.Fatal(err)
	}
	reg.EmailVerified = false
	liveSession(t, st, "s1")
	if err := st.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: "s1", SP: lms, NameID: "n1", SessionIndex: "ix",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	before, err := replica.ByID(ctx, "lms")
	if err != nil {
		t.Fatal(err)
	}

	rolled := spMetadata(t, lmsBase) // same entity, a new certificate
	got, err := reg.ReplaceMetadata(ctx, "lms", rolled)
	if err != nil {
		t.Fatalf("ReplaceMetadata: %v", err)
	}
	if got.Unchanged || got.Was == nil || got.SP.EntityID != lms || got.SP.Settings.ID != "lms" || !got.SP.Settings.EncryptAssertions ||
		reflect.DeepEqual(Summarize(got.SP.Metadata), Summarize(got.Was.Metadata)) {
		t.Fatalf("replacement %+v (%v, was %v)", got, Summarize(got.SP.Metadata), Summarize(got.Was.Metadata))
	}
	if !bytes.Equal(storedMetadata(t, st, lms), rolled) {
		t.Fatal("the stored metadata was not replaced")
	}
	if sp, err := reg.ByID(ctx, "lms"); err != nil || !reflect.DeepEqual(Summarize(sp.Metadata), Summarize(got.SP.Metadata)) {
		t.Fatalf("the registry that replaced it serves the old metadata: %v", err)
	}
	if err := replica.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if sp, err := replica.ByEntityID(ctx, lms); err != nil || !reflect.DeepEqual(Summarize(sp.Metadata), Summarize(got.SP.Metadata)) || reflect.DeepEqual(Summarize(sp.Metadata), Summarize(before.Metadata)) {
		t.Fatalf("the other replica, after reading the records: %v; want the new certificate", err)
	}
	if ps, err := st.SAMLParticipants(ctx, "s1"); err != nil || len(ps) != 1 || ps[0].SP != lms {
		t.Fatalf("the SP's place in the session after the refresh: %+v, %v", ps, err)
	}

	// By entity id, the same metadata: nothing written.
	if got, err := reg.ReplaceMetadata(ctx, lms, rolled); err != nil || !got.Unchanged {
		t.Fatalf("the same metadata again: %+v, %v; want unchanged", got, err)
	}

	// crewjam's metadata has a validUntil two days ahead: one an hour ago instead.
	expired := regexp.MustCompile(`validUntil="[^"]*"`).ReplaceAll(spMetadata(t, lmsBase),
		[]byte(`validUntil="`+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)+`"`))
	for _, tc := range []struct {
		name, which string
		metadata    []byte
		refusal     string
		notFound    bool
	}{
		{"another entity", "lms", spMetadata(t, "https://other.example.org"), "not " + lms, false},
		{"expired", "lms", expired, "expired at", false},
		{"http ACS", "lms", bytes.ReplaceAll(spMetadata(t, lmsBase), []byte(`Location="https://lms.example.org/saml/acs"`),
			[]byte(`Location="http://lms.example.org/saml/acs"`)), "must use https", false},
		{"no encryption certificate for encrypt_assertions", "lms", validUntilMetadata(lms, "", ""), "encrypt_assertions", false},
		{"not XML", "lms", []byte("<EntityDescriptor"), "metadata", false},
		{"e-mail NameID without email_verified", "jobs", spMetadata(t, jobsBase), "email_verified", false},
		{"never registered", "nobody", rolled, "no SAML service provider", true},
		{"no name", "", rolled, "name the SP", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stored := storedMetadata(t, st, lms)
			_, err := reg.ReplaceMetadata(ctx, tc.which, tc.metadata)
			if err == nil || !strings.Contains(err.Error(), tc.refusal) || errors.Is(err, sso.ErrNotFound) != tc.notFound {
				t.Fatalf("ReplaceMetadata: %v; want a refusal with %q", err, tc.refusal)
			}
			if !bytes.Equal(storedMetadata(t, st, lms), stored) {
				t.Fatal("a refused refresh changed the stored metadata")
			}
		})
	}

	// An SP of the configuration file: edited there.
	cfgReg, err := NewRegistry(config.SAMLConfig{ServiceProviders: []config.SAMLServiceProvider{{ID: "cfg", Name: "cfg",
		EntityID: "https://cfg.example.org", ACSURLs: []string{"https://cfg.example.org/acs"}}}}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfgReg.ReplaceMetadata(ctx, "cfg", spMetadata(t, "https://cfg.example.org")); err == nil || !strings.Contains(err.Error(), "configuration file") {
		t.Fatalf("refresh of a configured SP: %v", err)
	}
}

// TestRegistryReplaceMetadataOfUnusableSP (brief s20 M2 item 1): a stored SP whose record no
// longer builds (here: metadata with an http ACS, registered before the rule) is refreshed with
// its current https metadata and served again, its places in sessions kept: the way out that
// before was remove (dropping them) and register again.
func TestRegistryReplaceMetadataOfUnusableSP(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 1)
	reg := regs[0]
	const old = "https://old.example.org/saml/metadata"
	md := spMetadata(t, "https://old.example.org")
	httpACS := bytes.ReplaceAll(md, []byte(`Location="https://old.example.org/saml/acs"`), []byte(`Location="http://old.example.org/saml/acs"`))
	rec, err := Record(config.SAMLServiceProvider{ID: "old"}, httpACS, old, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}
	liveSession(t, st, "s1")
	if err := st.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: "s1", SP: old, NameID: "n1", SessionIndex: "ix",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ByID(ctx, "old"); !errors.Is(err, ErrUnusable) {
		t.Fatalf("the SP with an http ACS: %v; want unusable", err)
	}
	got, err := reg.ReplaceMetadata(ctx, "old", md)
	if err != nil || got.Was != nil || got.Unchanged {
		t.Fatalf("refresh of the unusable SP: %+v, %v", got, err)
	}
	if sp, err := reg.ByID(ctx, "old"); err != nil || sp.EntityID != old {
		t.Fatalf("after the refresh: %v; want it served", err)
	}
	if u, err := reg.Unusable(ctx); err != nil || len(u) != 0 {
		t.Fatalf("Unusable after the refresh: %+v, %v", u, err)
	}
	if ps, err := st.SAMLParticipants(ctx, "s1"); err != nil || len(ps) != 1 {
		t.Fatalf("its place in the session: %+v, %v", ps, err)
	}
}

// replaceFirst is a store on which another refresh of the same SP is stored between this
// registry's read and its write (the other operator's, or the other replica's, winning).
type replaceFirst struct {
	SPStore
	other func(ctx context.Context) error
}

func (s *replaceFirst) ReplaceSAMLServiceProvider(ctx context.Context, old *store.SAMLServiceProvider, settings, metadata []byte) error {
	if s.other != nil {
		other := s.other
		s.other = nil
		if err := other(ctx); err != nil {
			return err
		}
	}
	return s.SPStore.ReplaceSAMLServiceProvider(ctx, old, settings, metadata)
}

// TestRegistryReplaceMetadataRace (brief s20 M2 item 1): two refreshes of one SP read the same
// record; the one stored first wins, the other is told (ErrReplacedMeanwhile, sso.ErrConflict)
// and stores nothing: the record holds the winner's metadata, not a mix and not the loser's.
func TestRegistryReplaceMetadataRace(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 2)
	winner := regs[1]
	const lms = "https://lms.example.org/saml/metadata"
	if _, err := regs[0].Register(ctx, config.SAMLServiceProvider{ID: "lms"}, spMetadata(t, "https://lms.example.org"), time.Now()); err != nil {
		t.Fatal(err)
	}
	won, lost := spMetadata(t, "https://lms.example.org"), spMetadata(t, "https://lms.example.org")
	racing := &replaceFirst{SPStore: st, other: func(ctx context.Context) error {
		_, err := winner.ReplaceMetadata(ctx, "lms", won)
		return err
	}}
	loser, err := NewRegistry(config.SAMLConfig{}, racing, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = loser.ReplaceMetadata(ctx, "lms", lost)
	if !errors.Is(err, ErrReplacedMeanwhile) || !errors.Is(err, sso.ErrConflict) || !strings.Contains(err.Error(), "run the command again") {
		t.Fatalf("the refresh that lost: %v; want ErrReplacedMeanwhile", err)
	}
	if !bytes.Equal(storedMetadata(t, st, lms), won) {
		t.Fatal("the stored metadata is not the winner's")
	}
}

// liveSession stores a live session under id: the store adds SAML participants to stored
// sessions only.
func liveSession(t *testing.T, st interface {
	CreateSession(context.Context, *sso.Session) error
}, id string) {
	t.Helper()
	now := time.Now()
	if err := st.CreateSession(t.Context(), &sso.Session{ID: id, Subject: "subject-" + id, AuthTime: now, AMR: []string{"pwd"},
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}
