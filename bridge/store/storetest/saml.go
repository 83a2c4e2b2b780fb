package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

var samlTests = []test{
	{"ServiceProviders", testSAMLServiceProviders},
	{"ServiceProviderRace", testSAMLServiceProviderRace},
	{"RequestStates", testSAMLRequestStates},
	{"RequestNameIDFormat", testSAMLRequestNameIDFormat},
	{"RequestOutOfOrder", testSAMLRequestOutOfOrder},
	{"RequestExpired", testSAMLRequestExpired},
	{"RequestCompleteConcurrent", testSAMLRequestCompleteConcurrent},
	{"MessageIDOnce", testSAMLMessageIDOnce},
	{"Participants", testSAMLParticipants},
	{"Keys", testSAMLKeys},
	{"KeySuccessorOnce", testSAMLKeySuccessorOnce},
	{"Purge", testSAMLPurge},
	{"DeleteEndsLogouts", testSAMLDeleteEndsLogouts},
	{"DeleteCounted", testSAMLDeleteCounted},
	{"LoginClaimTakeOver", testSAMLLoginClaimTakeOver},
	{"LoginClaimTakeOverConcurrent", testSAMLLoginClaimTakeOverConcurrent},
	{"LoginClaimTakeOverRacesStep", testSAMLLoginClaimTakeOverRacesStep},
	{"LoginClaimStepPassedThenPurged", testSAMLLoginClaimStepPassedThenPurged},
	{"ServiceProviderReplace", testSAMLServiceProviderReplace},
	{"ServiceProviderReplaceRace", testSAMLServiceProviderReplaceRace},
}

func testSAMLServiceProviders(t *testing.T, h *H) {
	a := &store.SAMLServiceProvider{EntityID: "https://b.example/sp", Settings: []byte(`{"id":"b"}`), Metadata: []byte("<md/>"), CreatedAt: h.Now}
	ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, a), "CreateSAMLServiceProvider")
	ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, &store.SAMLServiceProvider{EntityID: "https://a.example/sp",
		Settings: []byte(`{}`), Metadata: []byte("<a/>"), CreatedAt: h.Now}), "CreateSAMLServiceProvider")
	again := *a
	again.Settings, again.Metadata = []byte(`{"id":"b2"}`), []byte("<md2/>")
	ssotest.IsErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, &again), sso.ErrConflict, "CreateSAMLServiceProvider (its entity id again)")
	list, err := h.S.SAMLServiceProviders(h.Ctx)
	ssotest.NoErr(t, err, "SAMLServiceProviders")
	if len(list) != 2 || list[0].EntityID != "https://a.example/sp" || list[1].EntityID != a.EntityID ||
		!bytes.Equal(list[1].Settings, a.Settings) || !bytes.Equal(list[1].Metadata, a.Metadata) {
		t.Fatalf("SAMLServiceProviders = %+v", list)
	}
	ssotest.NoErr(t, h.S.DeleteSAMLServiceProvider(h.Ctx, a.EntityID), "DeleteSAMLServiceProvider")
	ssotest.IsErr(t, h.S.DeleteSAMLServiceProvider(h.Ctx, a.EntityID), sso.ErrNotFound, "DeleteSAMLServiceProvider again")
	list, err = h.S.SAMLServiceProviders(h.Ctx)
	ssotest.NoErr(t, err, "SAMLServiceProviders")
	if len(list) != 1 {
		t.Fatalf("after delete: %d SPs", len(list))
	}
}

// testSAMLServiceProviderRace: registrations of one entity id at the same moment (two replicas,
// or the CLI twice), each with an id of its own: the store keeps exactly one, the others are
// refused with sso.ErrConflict, and the SP listed is the one whose registration succeeded
// (before, each replaced the last and all succeeded).
func testSAMLServiceProviderRace(t *testing.T, h *H) {
	for round := range 6 {
		entity := fmt.Sprintf("https://race%d.example/sp", round)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			won   []string
			errs  []error
			begin = make(chan struct{})
		)
		for i := range 4 {
			id := fmt.Sprintf("race%d-%d", round, i)
			wg.Go(func() {
				<-begin
				err := h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP(entity, id))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, id)
				case errors.Is(err, sso.ErrConflict) && !errors.Is(err, store.ErrAppIDTaken):
				default:
					errs = append(errs, err)
				}
			})
		}
		close(begin)
		wg.Wait()
		ssotest.NoErr(t, errors.Join(errs...), "concurrent CreateSAMLServiceProvider of one entity id")
		if len(won) != 1 {
			t.Fatalf("round %d: %d registrations of %s succeeded (%q), want 1", round, len(won), entity, won)
		}
		sps, err := h.S.SAMLServiceProviders(h.Ctx)
		ssotest.NoErr(t, err, "SAMLServiceProviders")
		i := slices.IndexFunc(sps, func(sp *store.SAMLServiceProvider) bool { return sp.EntityID == entity })
		if i < 0 || sps[i].ID != won[0] {
			t.Fatalf("round %d: SAMLServiceProviders = %+v, want %s as %q", round, sps, entity, won[0])
		}
	}
}

func (h *H) newSAMLRequest(expires time.Time) *store.SAMLRequest {
	h.T.Helper()
	r := &store.SAMLRequest{ID: ssotest.RandomID(), SP: "https://sp.example/", RequestID: "id-123", ACSURL: "https://sp.example/acs",
		ACSBinding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", ACSIndex: 1, RelayState: "rs", ForceAuthn: true,
		AuthnComparison: "minimum", AuthnClasses: []string{"https://refeds.org/profile/mfa", `urn:x-"quoted" \ class`},
		CreatedAt: h.Now, ExpiresAt: expires}
	ssotest.NoErr(h.T, h.S.CreateSAMLRequest(h.Ctx, r), "CreateSAMLRequest")
	return r
}

// testSAMLRequestStates: pending -> bound (to the first browser; idempotent for it) -> done,
// once; the fields round-trip.
func testSAMLRequestStates(t *testing.T, h *H) {
	r := h.newSAMLRequest(h.Now.Add(time.Hour))
	ssotest.IsErr(t, h.S.CreateSAMLRequest(h.Ctx, r), sso.ErrConflict, "CreateSAMLRequest (same id)")
	got, err := h.S.SAMLRequest(h.Ctx, r.ID)
	ssotest.NoErr(t, err, "SAMLRequest")
	if got.SP != r.SP || got.RequestID != r.RequestID || got.ACSURL != r.ACSURL || got.ACSBinding != r.ACSBinding ||
		got.ACSIndex != 1 || got.RelayState != "rs" || !got.ForceAuthn || got.IsPassive || got.Done || got.Browser != "" ||
		!got.CreatedAt.Equal(r.CreatedAt) || !got.ExpiresAt.Equal(r.ExpiresAt) ||
		got.AuthnComparison != r.AuthnComparison || !slices.Equal(got.AuthnClasses, r.AuthnClasses) {
		t.Fatalf("SAMLRequest = %+v, want %+v", got, r)
	}
	// A request without a RequestedAuthnContext keeps none.
	bare := &store.SAMLRequest{ID: ssotest.RandomID(), SP: r.SP, ACSURL: r.ACSURL, ACSBinding: r.ACSBinding, CreatedAt: h.Now,
		ExpiresAt: r.ExpiresAt}
	ssotest.NoErr(t, h.S.CreateSAMLRequest(h.Ctx, bare), "CreateSAMLRequest (no authn context)")
	if got, err := h.S.SAMLRequest(h.Ctx, bare.ID); err != nil || got.AuthnComparison != "" || got.AuthnClasses != nil {
		t.Fatalf("SAMLRequest without authn context = %+v, %v", got, err)
	}
	ssotest.IsErr(t, h.S.CompleteSAMLRequest(h.Ctx, r.ID, "b1"), sso.ErrConflict, "CompleteSAMLRequest before binding")
	ssotest.NoErr(t, h.S.BindSAMLRequest(h.Ctx, r.ID, "b1"), "BindSAMLRequest")
	ssotest.NoErr(t, h.S.BindSAMLRequest(h.Ctx, r.ID, "b1"), "BindSAMLRequest (same browser)")
	ssotest.IsErr(t, h.S.BindSAMLRequest(h.Ctx, r.ID, "b2"), sso.ErrConflict, "BindSAMLRequest (other browser)")
	ssotest.IsErr(t, h.S.CompleteSAMLRequest(h.Ctx, r.ID, "b2"), sso.ErrConflict, "CompleteSAMLRequest (other browser)")
	ssotest.NoErr(t, h.S.CompleteSAMLRequest(h.Ctx, r.ID, "b1"), "CompleteSAMLRequest")
	ssotest.IsErr(t, h.S.CompleteSAMLRequest(h.Ctx, r.ID, "b1"), sso.ErrConflict, "CompleteSAMLRequest again")
	ssotest.IsErr(t, h.S.BindSAMLRequest(h.Ctx, r.ID, "b1"), sso.ErrConflict, "BindSAMLRequest when done")
	got, err = h.S.SAMLRequest(h.Ctx, r.ID)
	ssotest.NoErr(t, err, "SAMLRequest")
	if !got.Done || got.Browser != "b1" {
		t.Fatalf("after completion: %+v", got)
	}
}

// testSAMLRequestNameIDFormat: a waiting sign-in keeps the NameID format its AuthnRequest asked
// for (transient) through binding and completion; one that asked for none keeps "".
func testSAMLRequestNameIDFormat(t *testing.T, h *H) {
	const transient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	r := &store.SAMLRequest{ID: ssotest.RandomID(), SP: "https://sp.example/", ACSURL: "https://sp.example/acs",
		ACSBinding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", NameIDFormat: transient, CreatedAt: h.Now,
		ExpiresAt: h.Now.Add(time.Hour)}
	ssotest.NoErr(t, h.S.CreateSAMLRequest(h.Ctx, r), "CreateSAMLRequest (transient)")
	own := &store.SAMLRequest{ID: ssotest.RandomID(), SP: r.SP, ACSURL: r.ACSURL, ACSBinding: r.ACSBinding, CreatedAt: h.Now,
		ExpiresAt: r.ExpiresAt}
	ssotest.NoErr(t, h.S.CreateSAMLRequest(h.Ctx, own), "CreateSAMLRequest (the SP's own format)")
	ssotest.NoErr(t, h.S.BindSAMLRequest(h.Ctx, r.ID, "b1"), "BindSAMLRequest")
	ssotest.NoErr(t, h.S.CompleteSAMLRequest(h.Ctx, r.ID, "b1"), "CompleteSAMLRequest")
	if got, err := h.S.SAMLRequest(h.Ctx, r.ID); err != nil || got.NameIDFormat != transient || got.ID != r.ID {
		t.Fatalf("SAMLRequest (transient) = %+v, %v; want the format %s and the id unchanged", got, err, transient)
	}
	if got, err := h.S.SAMLRequest(h.Ctx, own.ID); err != nil || got.NameIDFormat != "" {
		t.Fatalf("SAMLRequest (the SP's own format) = %+v, %v; want no format", got, err)
	}
}

// testSAMLRequestOutOfOrder: unknown requests are not found at every step.
func testSAMLRequestOutOfOrder(t *testing.T, h *H) {
	id := ssotest.RandomID()
	_, err := h.S.SAMLRequest(h.Ctx, id)
	ssotest.IsErr(t, err, sso.ErrNotFound, "SAMLRequest(unknown)")
	ssotest.IsErr(t, h.S.BindSAMLRequest(h.Ctx, id, "b"), sso.ErrNotFound, "BindSAMLRequest(unknown)")
	ssotest.IsErr(t, h.S.CompleteSAMLRequest(h.Ctx, id, "b"), sso.ErrNotFound, "CompleteSAMLRequest(unknown)")
}

func testSAMLRequestExpired(t *testing.T, h *H) {
	r := h.newSAMLRequest(h.Now.Add(-time.Second))
	_, err := h.S.SAMLRequest(h.Ctx, r.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "SAMLRequest(expired)")
	ssotest.IsErr(t, h.S.BindSAMLRequest(h.Ctx, r.ID, "b"), sso.ErrNotFound, "BindSAMLRequest(expired)")
	ssotest.IsErr(t, h.S.CompleteSAMLRequest(h.Ctx, r.ID, "b"), sso.ErrNotFound, "CompleteSAMLRequest(expired)")
}

// testSAMLRequestCompleteConcurrent: of many completions racing, exactly one wins.
func testSAMLRequestCompleteConcurrent(t *testing.T, h *H) {
	r := h.newSAMLRequest(h.Now.Add(time.Hour))
	ssotest.NoErr(t, h.S.BindSAMLRequest(h.Ctx, r.ID, "b"), "BindSAMLRequest")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range 8 {
		wg.Go(func() {
			if h.S.CompleteSAMLRequest(h.Ctx, r.ID, "b") == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d completions won, want 1", wins)
	}
}

func testSAMLMessageIDOnce(t *testing.T, h *H) {
	ssotest.NoErr(t, h.S.UseSAMLMessageID(h.Ctx, "authn:sp id-1", h.Now.Add(time.Hour)), "UseSAMLMessageID")
	ssotest.IsErr(t, h.S.UseSAMLMessageID(h.Ctx, "authn:sp id-1", h.Now.Add(time.Hour)), sso.ErrConflict, "UseSAMLMessageID again")
	ssotest.NoErr(t, h.S.UseSAMLMessageID(h.Ctx, "authn:other id-1", h.Now.Add(time.Hour)), "UseSAMLMessageID (other issuer)")
	ssotest.NoErr(t, h.S.UseSAMLMessageID(h.Ctx, "old", h.Now.Add(-time.Second)), "UseSAMLMessageID (expired)")
	ssotest.NoErr(t, h.S.UseSAMLMessageID(h.Ctx, "old", h.Now.Add(time.Hour)), "UseSAMLMessageID after expiry")
	ssotest.IsErr(t, h.S.UseSAMLMessageID(h.Ctx, "old", h.Now.Add(time.Hour)), sso.ErrConflict, "UseSAMLMessageID again")
	// An expiry passed already makes it a look-up (bridge/saml's LogoutRequest ids under the
	// keys of versions before session 22): ErrConflict while the id is used, which stays as it
	// was; nothing left used when it was not.
	passed := time.Unix(1, 0)
	ssotest.IsErr(t, h.S.UseSAMLMessageID(h.Ctx, "authn:sp id-1", passed), sso.ErrConflict, "UseSAMLMessageID look-up of a used id")
	ssotest.IsErr(t, h.S.UseSAMLMessageID(h.Ctx, "authn:sp id-1", h.Now.Add(time.Hour)), sso.ErrConflict, "UseSAMLMessageID after its look-up")
	ssotest.NoErr(t, h.S.UseSAMLMessageID(h.Ctx, "looked-up", passed), "UseSAMLMessageID look-up of an unused id")
	ssotest.NoErr(t, h.S.UseSAMLMessageID(h.Ctx, "looked-up", h.Now.Add(time.Hour)), "UseSAMLMessageID after its look-up")
}

// liveSessions stores a live session under each of ids: a participant is added to a stored
// session only (AddSAMLParticipant).
func (h *H) liveSessions(ids ...string) {
	h.T.Helper()
	for _, id := range ids {
		s := h.sso().NewSession("subject-" + id)
		s.ID = id
		ssotest.NoErr(h.T, h.S.CreateSession(h.Ctx, s), "CreateSession(%s)", id)
	}
}

// testSAMLParticipants: in first-sign-in order, refreshed in place, per session; Take returns
// them once.
func testSAMLParticipants(t *testing.T, h *H) {
	h.liveSessions("s1", "s2", "s3")
	exp := h.Now.Add(time.Hour)
	add := func(sid, sp, nameID string) {
		ssotest.NoErr(t, h.S.AddSAMLParticipant(h.Ctx, &store.SAMLParticipant{SessionID: sid, SP: sp, NameID: nameID,
			NameIDFormat: "persistent", SessionIndex: "ix-" + sid, CreatedAt: h.Now, ExpiresAt: exp}), "AddSAMLParticipant")
	}
	add("s1", "https://b.example", "n1")
	add("s1", "https://a.example", "n1")
	add("s1", "https://b.example", "n1b") // refreshed, keeps its place
	add("s2", "https://a.example", "n2")
	add("s3", "https://gone.example", "n3")
	ssotest.NoErr(t, h.S.AddSAMLParticipant(h.Ctx, &store.SAMLParticipant{SessionID: "s3", SP: "https://old.example", NameID: "n",
		CreatedAt: h.Now, ExpiresAt: h.Now.Add(-time.Second)}), "AddSAMLParticipant(expired)")
	ps, err := h.S.SAMLParticipants(h.Ctx, "s1")
	ssotest.NoErr(t, err, "SAMLParticipants")
	if len(ps) != 2 || ps[0].SP != "https://b.example" || ps[0].NameID != "n1b" || ps[1].SP != "https://a.example" ||
		ps[0].SessionIndex != "ix-s1" || ps[0].NameIDFormat != "persistent" {
		t.Fatalf("SAMLParticipants(s1) = %+v", ps)
	}
	taken, err := h.S.TakeSAMLParticipants(h.Ctx, "s1")
	ssotest.NoErr(t, err, "TakeSAMLParticipants")
	if len(taken) != 2 {
		t.Fatalf("TakeSAMLParticipants = %+v", taken)
	}
	again, err := h.S.TakeSAMLParticipants(h.Ctx, "s1")
	ssotest.NoErr(t, err, "TakeSAMLParticipants again")
	if len(again) != 0 {
		t.Fatalf("TakeSAMLParticipants again = %+v", again)
	}
	s2, err := h.S.SAMLParticipants(h.Ctx, "s2")
	ssotest.NoErr(t, err, "SAMLParticipants(s2)")
	if len(s2) != 1 {
		t.Fatalf("SAMLParticipants(s2) = %+v", s2)
	}
	s3, err := h.S.TakeSAMLParticipants(h.Ctx, "s3")
	ssotest.NoErr(t, err, "TakeSAMLParticipants(s3)")
	if len(s3) != 1 || s3[0].SP != "https://gone.example" {
		t.Fatalf("expired participant returned: %+v", s3)
	}
}

func testSAMLKeys(t *testing.T, h *H) {
	k1 := &store.SAMLKey{ID: "k1", CertDER: []byte{1}, PrivateEnc: []byte{2}, CreatedAt: h.Now.Add(-time.Hour),
		SignUntil: h.Now.Add(time.Hour), ExpiresAt: h.Now.Add(2 * time.Hour)}
	k2 := &store.SAMLKey{ID: "k2", CertDER: []byte{3}, PrivateEnc: []byte{4}, CreatedAt: h.Now.Add(time.Hour),
		SignUntil: h.Now.Add(48 * time.Hour), ExpiresAt: h.Now.Add(49 * time.Hour)}
	old := &store.SAMLKey{ID: "k0", CertDER: []byte{5}, PrivateEnc: []byte{6}, CreatedAt: h.Now.Add(-48 * time.Hour),
		SignUntil: h.Now.Add(-2 * time.Hour), ExpiresAt: h.Now.Add(-time.Hour)}
	for _, k := range []*store.SAMLKey{k2, k1, old} {
		ssotest.NoErr(t, h.S.AddSAMLKey(h.Ctx, k), "AddSAMLKey")
	}
	ssotest.IsErr(t, h.S.AddSAMLKey(h.Ctx, k1), sso.ErrConflict, "AddSAMLKey (same id)")
	keys, err := h.S.SAMLKeys(h.Ctx)
	ssotest.NoErr(t, err, "SAMLKeys")
	if len(keys) != 2 || keys[0].ID != "k1" || keys[1].ID != "k2" || !bytes.Equal(keys[0].PrivateEnc, []byte{2}) ||
		!bytes.Equal(keys[1].CertDER, []byte{3}) || !keys[1].SignUntil.Equal(k2.SignUntil) {
		t.Fatalf("SAMLKeys = %+v", keys)
	}
}

// testSAMLKeySuccessorOnce: replicas starting on a store without a signing key, or racing one
// rotation, store one key between them; an expired key does not count.
func testSAMLKeySuccessorOnce(t *testing.T, h *H) {
	old := &store.SAMLKey{ID: "old", CertDER: []byte{1}, PrivateEnc: []byte{2}, CreatedAt: h.Now.Add(-48 * time.Hour),
		SignUntil: h.Now.Add(-2 * time.Hour), ExpiresAt: h.Now.Add(-time.Hour)}
	ssotest.NoErr(t, h.S.AddSAMLKey(h.Ctx, old), "AddSAMLKey(expired)")
	race := func(round string, start time.Time) *store.SAMLKey {
		t.Helper()
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			won   []*store.SAMLKey
			errs  []error
			begin = make(chan struct{})
		)
		for i := range 8 {
			// Each replica's clock is a little off the others'.
			created := start.Add(time.Duration(i) * time.Millisecond)
			k := &store.SAMLKey{ID: ssotest.RandomID(), CertDER: []byte{byte(i)}, PrivateEnc: []byte{byte(i)},
				CreatedAt: created, SignUntil: created.Add(24 * time.Hour), ExpiresAt: created.Add(25 * time.Hour)}
			wg.Go(func() {
				<-begin
				err := h.S.AddSAMLSuccessor(h.Ctx, k)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won = append(won, k)
				} else if !errors.Is(err, sso.ErrConflict) {
					errs = append(errs, err)
				}
			})
		}
		close(begin)
		wg.Wait()
		ssotest.NoErr(t, errors.Join(errs...), "%s: AddSAMLSuccessor", round)
		if len(won) != 1 {
			t.Fatalf("%s: %d keys stored, want 1", round, len(won))
		}
		return won[0]
	}
	first := race("first key", h.Now)
	ssotest.IsErr(t, h.S.AddSAMLSuccessor(h.Ctx, &store.SAMLKey{ID: "late", CreatedAt: h.Now.Add(time.Hour),
		SignUntil: h.Now.Add(48 * time.Hour), ExpiresAt: h.Now.Add(49 * time.Hour)}), sso.ErrConflict, "AddSAMLSuccessor while the first signs")
	next := race("successor", first.SignUntil)
	keys, err := h.S.SAMLKeys(h.Ctx)
	ssotest.NoErr(t, err, "SAMLKeys")
	if len(keys) != 2 || keys[0].ID != first.ID || keys[1].ID != next.ID {
		t.Fatalf("SAMLKeys = %+v, want %s then %s", keys, first.ID, next.ID)
	}
}

func testSAMLPurge(t *testing.T, h *H) {
	r := h.newSAMLRequest(h.Now.Add(time.Minute))
	ssotest.NoErr(t, h.S.UseSAMLMessageID(h.Ctx, "m", h.Now.Add(time.Minute)), "UseSAMLMessageID")
	n, err := h.S.Purge(h.Ctx, h.Now.Add(time.Hour))
	ssotest.NoErr(t, err, "Purge")
	if n < 2 {
		t.Fatalf("Purge deleted %d rows, want at least 2", n)
	}
	_ = r
}

// testSAMLDeleteEndsLogouts: removing an SP deletes, with it, its participation in sessions
// and its queued single-logout events not delivered (pending, dead): an SP registered again
// under the entity id would otherwise be sent the old NameID and SessionIndex, by the queue or
// by a retry of a dead event (review s17 R2-6). Another app's events, the delivered history and
// another SP's participation stay.
func testSAMLDeleteEndsLogouts(t *testing.T, h *H) {
	sp := func() *store.SAMLServiceProvider {
		return &store.SAMLServiceProvider{EntityID: "https://gone.example/sp", ID: "gone-sp", Settings: []byte(`{"id":"gone-sp"}`),
			Metadata: []byte("<md/>"), CreatedAt: h.Now}
	}
	ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, sp()), "CreateSAMLServiceProvider")
	h.liveSessions("s1")
	exp := h.Now.Add(time.Hour)
	for _, p := range []string{"https://gone.example/sp", "https://stays.example/sp"} {
		ssotest.NoErr(t, h.S.AddSAMLParticipant(h.Ctx, &store.SAMLParticipant{SessionID: "s1", SP: p, NameID: "n1",
			SessionIndex: "ix", CreatedAt: h.Now, ExpiresAt: exp}), "AddSAMLParticipant")
	}
	delivered, dead, pending, other := clientEvent("gone-sp", "m1"), clientEvent("gone-sp", "m2"), clientEvent("gone-sp", "m3"), clientEvent("stays", "m1")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, delivered, dead)...), "Enqueue")
	at := h.Now.Add(time.Second)
	lease := leases(h.claimExactly(at, "claim", delivered, dead))
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, delivered.ID, lease[delivered.ID], at), "MarkDelivered")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, dead.ID, lease[dead.ID], at, "500", true), "MarkFailed(dead)")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, pending, other), "Enqueue")

	ssotest.NoErr(t, h.S.DeleteSAMLServiceProvider(h.Ctx, "https://gone.example/sp"), "DeleteSAMLServiceProvider")
	for _, e := range []*store.OutboxEvent{dead, pending} {
		_, err := h.S.OutboxEvent(h.Ctx, e.ID)
		ssotest.IsErr(t, err, sso.ErrNotFound, "event %s of the removed SP", e.ID)
	}
	got, err := h.S.OutboxEvent(h.Ctx, delivered.ID)
	ssotest.NoErr(t, err, "the removed SP's delivered event (history)")
	ssotest.Equal(t, got.State, store.OutboxDelivered, "its state")
	ps, err := h.S.SAMLParticipants(h.Ctx, "s1")
	ssotest.NoErr(t, err, "SAMLParticipants")
	if len(ps) != 1 || ps[0].SP != "https://stays.example/sp" {
		t.Fatalf("SAMLParticipants(s1) after the SP was removed = %+v", ps)
	}

	ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, sp()), "CreateSAMLServiceProvider again")
	n, err := h.S.RetryEvents(h.Ctx, "", at)
	ssotest.NoErr(t, err, "RetryEvents")
	ssotest.Equal(t, n, 0, "dead events re-queued after the SP was removed")
	ssotest.Equal(t, ids(h.claim(at.Add(time.Hour), 10)), []string{other.ID}, "claimed after the removal")
	ssotest.IsErr(t, h.S.DeleteSAMLServiceProvider(h.Ctx, "https://nobody.example/sp"), sso.ErrNotFound, "DeleteSAMLServiceProvider(unknown)")
}

// testSAMLDeleteCounted: DeleteSAMLServiceProviderCounted says what the deletion destroyed,
// counted in its transaction: the SP's places in sessions (two sessions) and its events not
// delivered (a pending and a dead one; the delivered one is history, kept, not counted);
// another SP's participation and another app's events are neither deleted nor counted. An SP
// without an app id has no events to delete (they name no app), and its participation is still
// counted. An unknown SP, or the same one again: sso.ErrNotFound, nothing counted.
func testSAMLDeleteCounted(t *testing.T, h *H) {
	gone := &store.SAMLServiceProvider{EntityID: "https://gone.example/sp", ID: "gone-sp", Settings: []byte(`{"id":"gone-sp"}`),
		Metadata: []byte("<md/>"), CreatedAt: h.Now}
	anon := &store.SAMLServiceProvider{EntityID: "https://anon.example/sp", Settings: []byte(`{}`), Metadata: []byte("<md/>"), CreatedAt: h.Now}
	for _, sp := range []*store.SAMLServiceProvider{gone, anon} {
		ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, sp), "CreateSAMLServiceProvider %s", sp.EntityID)
	}
	h.liveSessions("s1", "s2", "s3")
	exp := h.Now.Add(time.Hour)
	for _, p := range []struct{ session, sp string }{
		{"s1", gone.EntityID}, {"s2", gone.EntityID}, {"s1", "https://stays.example/sp"}, {"s3", anon.EntityID},
	} {
		ssotest.NoErr(t, h.S.AddSAMLParticipant(h.Ctx, &store.SAMLParticipant{SessionID: p.session, SP: p.sp, NameID: "n1",
			SessionIndex: "ix", CreatedAt: h.Now, ExpiresAt: exp}), "AddSAMLParticipant")
	}
	delivered, dead := clientEvent("gone-sp", "m1"), clientEvent("gone-sp", "m2")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, delivered, dead)...), "Enqueue")
	at := h.Now.Add(time.Second)
	lease := leases(h.claimExactly(at, "claim", delivered, dead))
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, delivered.ID, lease[delivered.ID], at), "MarkDelivered")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, dead.ID, lease[dead.ID], at, "500", true), "MarkFailed(dead)")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, clientEvent("gone-sp", "m3"), clientEvent("stays", "m1")), "Enqueue")

	r, err := h.S.DeleteSAMLServiceProviderCounted(h.Ctx, gone.EntityID)
	ssotest.NoErr(t, err, "DeleteSAMLServiceProviderCounted")
	ssotest.Equal(t, r, store.SAMLRemoval{Participations: 2, Events: 2}, "what the deletion deleted")
	r, err = h.S.DeleteSAMLServiceProviderCounted(h.Ctx, anon.EntityID)
	ssotest.NoErr(t, err, "DeleteSAMLServiceProviderCounted(no app id)")
	ssotest.Equal(t, r, store.SAMLRemoval{Participations: 1}, "what deleting an SP without an app id deleted")
	for _, id := range []string{gone.EntityID, "https://never.example/sp"} {
		r, err = h.S.DeleteSAMLServiceProviderCounted(h.Ctx, id)
		ssotest.IsErr(t, err, sso.ErrNotFound, "DeleteSAMLServiceProviderCounted(%s) again", id)
		ssotest.Equal(t, r, store.SAMLRemoval{}, "what deleting %s deleted", id)
	}
	ps, err := h.S.SAMLParticipants(h.Ctx, "s1")
	ssotest.NoErr(t, err, "SAMLParticipants")
	if len(ps) != 1 || ps[0].SP != "https://stays.example/sp" {
		t.Fatalf("SAMLParticipants(s1) after the SP was removed = %+v", ps)
	}
}

// spRecord is the stored record of the SP entity (nil when none).
func (h *H) spRecord(entity string) *store.SAMLServiceProvider {
	h.T.Helper()
	sps, err := h.S.SAMLServiceProviders(h.Ctx)
	ssotest.NoErr(h.T, err, "SAMLServiceProviders")
	for _, sp := range sps {
		if sp.EntityID == entity {
			return sp
		}
	}
	return nil
}

// testSAMLServiceProviderReplace (brief s20 M2 item 1): a registered SP's metadata (and
// settings) are replaced in place, only while its record is still the one read
// (compare-and-set): its entity id, app id and creation time stay, and so do its places in
// sessions (its members' single logout still reaches it). A replacement read from a record
// replaced since (its metadata or its settings) is sso.ErrConflict and changes nothing; an SP
// never registered, or removed, is sso.ErrNotFound.
func testSAMLServiceProviderReplace(t *testing.T, h *H) {
	const entity = "https://replace.example/sp"
	ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP(entity, "repl")), "CreateSAMLServiceProvider")
	h.liveSessions("s-repl")
	ssotest.NoErr(t, h.S.AddSAMLParticipant(h.Ctx, &store.SAMLParticipant{SessionID: "s-repl", SP: entity, NameID: "n1",
		NameIDFormat: "persistent", SessionIndex: "ix", CreatedAt: h.Now, ExpiresAt: h.Now.Add(time.Hour)}), "AddSAMLParticipant")
	read := h.spRecord(entity)
	ssotest.NoErr(t, h.S.ReplaceSAMLServiceProvider(h.Ctx, read, read.Settings, []byte("<md2/>")), "ReplaceSAMLServiceProvider")
	got := h.spRecord(entity)
	if got == nil || string(got.Metadata) != "<md2/>" || !bytes.Equal(got.Settings, read.Settings) || got.ID != "repl" ||
		!got.CreatedAt.Equal(read.CreatedAt) {
		t.Fatalf("after the replacement: %+v; want metadata <md2/>, settings, id and creation time kept (%+v)", got, read)
	}
	ps, err := h.S.SAMLParticipants(h.Ctx, "s-repl")
	ssotest.NoErr(t, err, "SAMLParticipants")
	if len(ps) != 1 || ps[0].SP != entity || ps[0].NameID != "n1" {
		t.Fatalf("the SP's place in the session after the replacement: %+v", ps)
	}

	// Read before the replacement: refused, whatever it would write.
	ssotest.IsErr(t, h.S.ReplaceSAMLServiceProvider(h.Ctx, read, read.Settings, []byte("<md3/>")), sso.ErrConflict,
		"ReplaceSAMLServiceProvider from the record as it was before")
	ssotest.IsErr(t, h.S.ReplaceSAMLServiceProvider(h.Ctx, read, read.Settings, []byte("<md2/>")), sso.ErrConflict,
		"ReplaceSAMLServiceProvider from the record as it was before, writing what is stored")
	other := *got
	other.Settings = []byte(`{"id":"repl","name":"other"}`)
	ssotest.IsErr(t, h.S.ReplaceSAMLServiceProvider(h.Ctx, &other, other.Settings, []byte("<md4/>")), sso.ErrConflict,
		"ReplaceSAMLServiceProvider from other settings")
	if now := h.spRecord(entity); string(now.Metadata) != "<md2/>" || !bytes.Equal(now.Settings, read.Settings) {
		t.Fatalf("a refused replacement changed the record: %+v", now)
	}

	// Settings change too, with the record as it is now.
	settings := []byte(`{"id":"repl","name":"Renamed"}`)
	ssotest.NoErr(t, h.S.ReplaceSAMLServiceProvider(h.Ctx, got, settings, got.Metadata), "ReplaceSAMLServiceProvider (settings)")
	if now := h.spRecord(entity); !bytes.Equal(now.Settings, settings) || string(now.Metadata) != "<md2/>" || now.ID != "repl" {
		t.Fatalf("after replacing the settings: %+v", now)
	}
	// Its app id is still its own: another SP cannot take it.
	isAppIDTaken(t, h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP("https://replace-other.example/sp", "repl")),
		"CreateSAMLServiceProvider with a replaced SP's id")

	unknown := *got
	unknown.EntityID = "https://never.example/sp"
	ssotest.IsErr(t, h.S.ReplaceSAMLServiceProvider(h.Ctx, &unknown, unknown.Settings, []byte("<x/>")), sso.ErrNotFound,
		"ReplaceSAMLServiceProvider of an SP never registered")
	ssotest.NoErr(t, h.S.DeleteSAMLServiceProvider(h.Ctx, entity), "DeleteSAMLServiceProvider")
	now := *got
	now.Settings = settings
	ssotest.IsErr(t, h.S.ReplaceSAMLServiceProvider(h.Ctx, &now, settings, []byte("<x/>")), sso.ErrNotFound,
		"ReplaceSAMLServiceProvider of a removed SP")
	if h.spRecord(entity) != nil {
		t.Fatal("a replacement brought a removed SP back")
	}
}

// testSAMLServiceProviderReplaceRace: replacements of one SP read from the same record at the
// same moment (two operators, or two replicas' CLIs): exactly one is stored, the others are
// sso.ErrConflict, and the record holds the winner's metadata.
func testSAMLServiceProviderReplaceRace(t *testing.T, h *H) {
	for round := range 6 {
		entity := fmt.Sprintf("https://replace-race%d.example/sp", round)
		ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP(entity, fmt.Sprintf("rrace%d", round))), "CreateSAMLServiceProvider")
		read := h.spRecord(entity)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			won   []string
			errs  []error
			begin = make(chan struct{})
		)
		for i := range 4 {
			md := fmt.Sprintf("<md round=%q i=%q/>", fmt.Sprint(round), fmt.Sprint(i))
			wg.Go(func() {
				<-begin
				err := h.S.ReplaceSAMLServiceProvider(h.Ctx, read, read.Settings, []byte(md))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, md)
				case errors.Is(err, sso.ErrConflict):
				default:
					errs = append(errs, err)
				}
			})
		}
		close(begin)
		wg.Wait()
		ssotest.NoErr(t, errors.Join(errs...), "concurrent ReplaceSAMLServiceProvider")
		if len(won) != 1 {
			t.Fatalf("round %d: %d replacements succeeded (%q), want 1", round, len(won), won)
		}
		if got := h.spRecord(entity); got == nil || string(got.Metadata) != won[0] {
			t.Fatalf("round %d: stored %+v, want the winner's %s", round, got, won[0])
		}
	}
}
