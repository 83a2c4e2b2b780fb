package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

var keyTests = []test{
	{"AddList", testKeysAddList},
	{"Conflict", testKeysConflict},
	{"SuccessorOnce", testKeysSuccessorOnce},
	{"Extend", testKeysExtend},
	{"ExtendConcurrently", testKeysExtendConcurrently},
	{"Retire", testKeysRetire},
	{"WithdrawnNotExtended", testKeysWithdrawnNotExtended},
	{"RetireRaces", testKeysRetireRaces},
	{"RetireRotationRace", testKeysRetireRotationRace},
}

var clientTests = []test{
	{"CRUD", testClientsCRUD},
	{"Version", testClientsVersion},
	{"DeleteRevokesGrants", testClientDeleteRevokesGrants},
	{"DeleteEndsParticipation", testClientDeleteEndsParticipation},
	{"DeleteDropsRequests", testClientDeleteDropsRequests},
	{"DeleteClosesPending", testClientDeleteClosesPending},
}

var secretTests = []test{
	{"Ensure", testEnsureSecret},
	{"Replace", testReplaceSecret},
	{"EnsureConcurrently", testEnsureSecretConcurrently},
}

var purgeTests = []test{
	{"Empty", testPurgeEmpty},
	{"AuthRequests", testPurgeAuthRequests},
	{"Tokens", testPurgeTokens},
	{"Sessions", testPurgeSessions},
	{"Keys", testPurgeKeys},
	{"Everything", testPurgeEverything},
}

// NewKey returns a key created at created that signs for a day and is published for two.
func NewKey(created time.Time) *sso.StoredKey {
	return &sso.StoredKey{
		ID:         RandomID()[:16],
		Algorithm:  "ES256",
		PublicJWK:  []byte(`{"kty":"EC","crv":"P-256","x":"` + RandomID() + `"}`),
		PrivateEnc: append([]byte{0, 1, 2, 0xff}, []byte(RandomID())...),
		CreatedAt:  created,
		SignUntil:  created.Add(24 * time.Hour),
		ExpiresAt:  created.Add(48 * time.Hour),
	}
}

func testKeysAddList(t *testing.T, h *H) {
	l, err := h.S.SigningKeys(h.Ctx)
	NoErr(t, err, "SigningKeys(empty)")
	if len(l) != 0 {
		t.Fatalf("SigningKeys on an empty store = %d keys", len(l))
	}
	k2 := NewKey(h.Now.Add(-time.Hour))
	k1 := NewKey(h.Now.Add(-30 * time.Hour)) // no longer signs, still published
	k2.Algorithm = "RS256"
	expired := NewKey(h.Now.Add(-72 * time.Hour))
	k3 := NewKey(h.Now)
	k3.Algorithm = "EdDSA"
	for _, k := range []*sso.StoredKey{k2, expired, k1, k3} {
		NoErr(t, h.S.AddSigningKey(h.Ctx, k), "AddSigningKey")
	}
	l, err = h.S.SigningKeys(h.Ctx)
	NoErr(t, err, "SigningKeys")
	Equal(t, l, []*sso.StoredKey{k1, k2, k3}, "SigningKeys (oldest first, expired left out)")
}

func testKeysConflict(t *testing.T, h *H) {
	k := NewKey(h.Now)
	NoErr(t, h.S.AddSigningKey(h.Ctx, k), "AddSigningKey")
	k2 := NewKey(h.Now)
	k2.ID = k.ID
	IsErr(t, h.S.AddSigningKey(h.Ctx, k2), sso.ErrConflict, "AddSigningKey with an existing id")
	l, err := h.S.SigningKeys(h.Ctx)
	NoErr(t, err, "SigningKeys")
	Equal(t, l, []*sso.StoredKey{k}, "SigningKeys after a conflict")
}

// testKeysSuccessorOnce: replicas starting on a store without a signing key of an algorithm,
// or racing one rotation, store one key of it between them; a key that no longer signs, or of
// another algorithm, does not count.
func testKeysSuccessorOnce(t *testing.T, h *H) {
	old := NewKey(h.Now.Add(-30 * time.Hour)) // signed until 6 hours ago
	NoErr(t, h.S.AddSigningKey(h.Ctx, old), "AddSigningKey(no longer signing)")
	other := NewKey(h.Now.Add(-time.Hour))
	other.Algorithm = "RS256"
	NoErr(t, h.S.AddSigningKeySuccessor(h.Ctx, other), "AddSigningKeySuccessor(another algorithm)")
	race := func(round string, start time.Time) *sso.StoredKey {
		t.Helper()
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			won   []*sso.StoredKey
			errs  []error
			begin = make(chan struct{})
		)
		for i := range 8 {
			// Each replica's clock is a little off the others'.
			k := NewKey(start.Add(time.Duration(i) * time.Millisecond))
			wg.Go(func() {
				<-begin
				err := h.S.AddSigningKeySuccessor(h.Ctx, k)
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
		NoErr(t, errors.Join(errs...), "%s: AddSigningKeySuccessor", round)
		if len(won) != 1 {
			t.Fatalf("%s: %d keys stored, want 1", round, len(won))
		}
		return won[0]
	}
	first := race("first key", h.Now)
	IsErr(t, h.S.AddSigningKeySuccessor(h.Ctx, NewKey(h.Now.Add(time.Hour))), sso.ErrConflict,
		"AddSigningKeySuccessor while the first signs")
	next := race("successor", first.SignUntil)
	l, err := h.S.SigningKeys(h.Ctx)
	NoErr(t, err, "SigningKeys")
	Equal(t, l, []*sso.StoredKey{old, other, first, next}, "SigningKeys (oldest first)")
}

func newClient(id string, created time.Time) *sso.StoredClient {
	return &sso.StoredClient{ID: id, Config: []byte(`{"id":"` + id + `","redirect_uris":["https://app/cb"]}`),
		CreatedAt: created, UpdatedAt: created}
}

// testClientDeleteRevokesGrants: deleting a client revokes every family issued to it, those
// without a refresh token too (a sign-in's access token belongs to one). Before, only families
// with a refresh token were revoked (by the administration), and a client registered again
// under the same id made the old app's access tokens valid again (review s11 Z10).
func testClientDeleteRevokesGrants(t *testing.T, h *H) {
	NoErr(t, h.S.CreateClient(h.Ctx, newClient("gone", h.Now)), "CreateClient")
	access, refresh, other := h.NewAccessFamily(), h.NewRefreshToken(), h.NewAccessFamily()
	access.ClientID, refresh.ClientID, other.ClientID = "gone", "gone", "stays"
	for _, f := range []*sso.RefreshToken{access, refresh, other} {
		NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: f}), "IssueTokens")
	}
	NoErr(t, h.S.DeleteClient(h.Ctx, "gone"), "DeleteClient")
	if !h.Revoked(access.FamilyID) || !h.Revoked(refresh.FamilyID) {
		t.Fatalf("families of a deleted client live on (access-only revoked %v, with refresh token revoked %v)",
			h.Revoked(access.FamilyID), h.Revoked(refresh.FamilyID))
	}
	if h.Revoked(other.FamilyID) {
		t.Fatal("deleting a client revoked another client's family")
	}
}

// testClientDeleteEndsParticipation: deleting a client removes it from every session it took
// part in, so that a client registered later under the same id (another app) is not sent the
// old app's back-channel logouts (sub and sid) when those sessions end (review s17 R2-1);
// another client's participation stays.
func testClientDeleteEndsParticipation(t *testing.T, h *H) {
	NoErr(t, h.S.CreateClient(h.Ctx, newClient("gone", h.Now)), "CreateClient")
	s1 := h.CreateSession("alice", "gone", "stays")
	s2 := h.CreateSession("bob")
	NoErr(t, h.S.AddSessionClient(h.Ctx, s2.ID, "gone", h.Now), "AddSessionClient")
	NoErr(t, h.S.DeleteClient(h.Ctx, "gone"), "DeleteClient")
	NoErr(t, h.S.CreateClient(h.Ctx, newClient("gone", h.Now)), "CreateClient again")
	for _, c := range []struct {
		id   string
		want []string
	}{{s1.ID, []string{"stays"}}, {s2.ID, nil}} {
		got, err := h.S.Session(h.Ctx, c.id)
		NoErr(t, err, "Session")
		if len(got.Clients) != len(c.want) || (len(c.want) > 0 && !slices.Equal(got.Clients, c.want)) {
			t.Fatalf("Session.Clients after the client was deleted and registered again = %q, want %q", got.Clients, c.want)
		}
	}
}

// testClientDeleteDropsRequests: deleting a client deletes, in the same transaction, its
// sign-in requests (pending, signed in, with a code issued) and its device authorizations
// (RFC 8628), so that an app registered again under the id does not find the old app's
// requests and codes until they expire (sso refuses them while the client is gone, X18-1);
// another client's stay.
func testClientDeleteDropsRequests(t *testing.T, h *H) {
	NoErr(t, h.S.CreateClient(h.Ctx, newClient("gone", h.Now)), "CreateClient")
	pending := h.NewAuthRequest()
	pending.ClientID = "gone"
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, pending), "CreateAuthRequest")
	coded, code := h.CreateCode()
	other, otherCode := h.CreateCode()
	// CreateCode's requests have a random client: move one to "gone" by recreating it.
	NoErr(t, h.S.DeleteAuthRequest(h.Ctx, coded.ID), "DeleteAuthRequest")
	coded.ID, coded.ClientID, coded.Done, coded.CodeHash = RandomID(), "gone", false, ""
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, coded), "CreateAuthRequest")
	NoErr(t, h.S.CompleteAuthRequest(h.Ctx, coded.ID, sso.Completion{Subject: "alice", AuthTime: h.Now, SessionID: RandomID()}), "CompleteAuthRequest")
	NoErr(t, h.S.SaveCode(h.Ctx, coded.ID, code, h.Now.Add(10*time.Minute)), "SaveCode")
	ds, devices := h.S.(sso.DeviceStore)
	var gone, stays *sso.DeviceAuthorization
	if devices {
		gone, stays = NewDevice(h.Now), NewDevice(h.Now)
		gone.ClientID = "gone"
		NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, gone), "CreateDeviceAuthorization")
		NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, stays), "CreateDeviceAuthorization")
	}

	NoErr(t, h.S.DeleteClient(h.Ctx, "gone"), "DeleteClient")
	NoErr(t, h.S.CreateClient(h.Ctx, newClient("gone", h.Now)), "CreateClient again")
	for _, id := range []string{pending.ID, coded.ID} {
		_, err := h.S.AuthRequest(h.Ctx, id)
		IsErr(t, err, sso.ErrNotFound, "the deleted client's sign-in request")
	}
	_, err := h.S.AuthRequestByCode(h.Ctx, code)
	IsErr(t, err, sso.ErrNotFound, "the deleted client's code")
	if _, err := h.S.AuthRequest(h.Ctx, other.ID); err != nil {
		t.Fatalf("another client's request after DeleteClient: %v", err)
	}
	if _, err := h.S.AuthRequestByCode(h.Ctx, otherCode); err != nil {
		t.Fatalf("another client's code after DeleteClient: %v", err)
	}
	if devices {
		_, err := ds.DeviceAuthorizationByUserCode(h.Ctx, gone.UserCode)
		IsErr(t, err, sso.ErrNotFound, "the deleted client's device authorization")
		if _, err := ds.DeviceAuthorizationByUserCode(h.Ctx, stays.UserCode); err != nil {
			t.Fatalf("another client's device authorization after DeleteClient: %v", err)
		}
	}
}

func testClientsCRUD(t *testing.T, h *H) {
	l, err := h.S.Clients(h.Ctx)
	NoErr(t, err, "Clients(empty)")
	if len(l) != 0 {
		t.Fatalf("Clients on an empty store = %d", len(l))
	}
	_, err = h.S.Client(h.Ctx, "nope")
	IsErr(t, err, sso.ErrNotFound, "Client(unknown)")

	a, b := newClient("app-a", h.Now), newClient("app-b", h.Now)
	NoErr(t, h.S.CreateClient(h.Ctx, b), "CreateClient")
	NoErr(t, h.S.CreateClient(h.Ctx, a), "CreateClient")
	got, err := h.S.Client(h.Ctx, "app-a")
	NoErr(t, err, "Client")
	Equal(t, got, a, "Client")
	IsErr(t, h.S.CreateClient(h.Ctx, newClient("app-a", h.Now)), sso.ErrConflict, "CreateClient with an existing id")

	l, err = h.S.Clients(h.Ctx)
	NoErr(t, err, "Clients")
	if len(l) != 2 {
		t.Fatalf("Clients = %d, want 2", len(l))
	}
	for _, c := range l {
		want := a
		if c.ID == "app-b" {
			want = b
		}
		Equal(t, c, want, "listed client")
	}

	upd := newClient("app-a", h.Now)
	upd.Config = []byte(`{"id":"app-a","redirect_uris":["https://new/cb"]}`)
	upd.UpdatedAt = h.Now.Add(time.Minute)
	NoErr(t, h.S.UpdateClient(h.Ctx, upd), "UpdateClient")
	got, err = h.S.Client(h.Ctx, "app-a")
	NoErr(t, err, "Client after update")
	if !bytes.Equal(got.Config, upd.Config) || !got.UpdatedAt.Equal(upd.UpdatedAt) || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("Client after update = %s (created %v, updated %v); want %s (created %v, updated %v)",
			got.Config, got.CreatedAt, got.UpdatedAt, upd.Config, a.CreatedAt, upd.UpdatedAt)
	}
	IsErr(t, h.S.UpdateClient(h.Ctx, newClient("ghost", h.Now)), sso.ErrNotFound, "UpdateClient(unknown)")
	_, err = h.S.Client(h.Ctx, "ghost")
	IsErr(t, err, sso.ErrNotFound, "UpdateClient(unknown) must not create")

	NoErr(t, h.S.DeleteClient(h.Ctx, "app-a"), "DeleteClient")
	_, err = h.S.Client(h.Ctx, "app-a")
	IsErr(t, err, sso.ErrNotFound, "Client after delete")
	NoErr(t, h.S.DeleteClient(h.Ctx, "app-a"), "DeleteClient again (idempotent)")
	l, err = h.S.Clients(h.Ctx)
	NoErr(t, err, "Clients")
	if len(l) != 1 || l[0].ID != "app-b" {
		t.Fatalf("Clients after delete = %d", len(l))
	}
}

func testClientsVersion(t *testing.T, h *H) {
	version := func() int64 {
		t.Helper()
		v, err := h.S.ClientsVersion(h.Ctx)
		NoErr(t, err, "ClientsVersion")
		return v
	}
	seen := map[int64]string{}
	changed := func(what string) {
		t.Helper()
		v := version()
		if prev, ok := seen[v]; ok {
			t.Fatalf("ClientsVersion %d after %s was already seen after %s", v, what, prev)
		}
		seen[v] = what
	}
	same := func(v int64, what string) {
		t.Helper()
		if got := version(); got != v {
			t.Fatalf("ClientsVersion changed from %d to %d after %s", v, got, what)
		}
	}
	changed("open")
	same(version(), "nothing")
	NoErr(t, h.S.CreateClient(h.Ctx, newClient("c1", h.Now)), "CreateClient")
	changed("create")
	v := version()
	_ = h.S.CreateClient(h.Ctx, newClient("c1", h.Now))
	same(v, "a refused create")
	_ = h.S.UpdateClient(h.Ctx, newClient("ghost", h.Now))
	same(v, "a refused update")
	_, _ = h.S.Clients(h.Ctx)
	same(v, "a read")
	NoErr(t, h.S.UpdateClient(h.Ctx, newClient("c1", h.Now)), "UpdateClient")
	changed("update")
	NoErr(t, h.S.DeleteClient(h.Ctx, "c1"), "DeleteClient")
	changed("delete")
}

func testEnsureSecret(t *testing.T, h *H) {
	v1 := []byte("first secret \x00\xff value 0123456789abcdef")
	got, err := h.S.EnsureSecret(h.Ctx, "subject-hmac", v1)
	NoErr(t, err, "EnsureSecret(new)")
	if !bytes.Equal(got, v1) {
		t.Fatalf("EnsureSecret(new) = %x, want %x", got, v1)
	}
	got, err = h.S.EnsureSecret(h.Ctx, "subject-hmac", []byte("another value"))
	NoErr(t, err, "EnsureSecret(existing)")
	if !bytes.Equal(got, v1) {
		t.Fatalf("EnsureSecret(existing) = %q, want the first value %q", got, v1)
	}
	v2 := []byte("cookie key")
	got, err = h.S.EnsureSecret(h.Ctx, "cookie", v2)
	NoErr(t, err, "EnsureSecret(other name)")
	if !bytes.Equal(got, v2) {
		t.Fatalf("EnsureSecret(other name) = %q, want %q", got, v2)
	}
}

func testReplaceSecret(t *testing.T, h *H) {
	v1 := []byte("plaintext secret")
	_, err := h.S.EnsureSecret(h.Ctx, "s1", v1)
	NoErr(t, err, "EnsureSecret")
	IsErr(t, h.S.ReplaceSecret(h.Ctx, "s1", []byte("not the value"), []byte("sealed")), sso.ErrNotFound, "ReplaceSecret with a wrong old value")
	IsErr(t, h.S.ReplaceSecret(h.Ctx, "absent", v1, []byte("sealed")), sso.ErrNotFound, "ReplaceSecret of an absent secret")
	NoErr(t, h.S.ReplaceSecret(h.Ctx, "s1", v1, []byte("sealed")), "ReplaceSecret")
	IsErr(t, h.S.ReplaceSecret(h.Ctx, "s1", v1, []byte("again")), sso.ErrNotFound, "ReplaceSecret replayed")
	got, err := h.S.EnsureSecret(h.Ctx, "s1", []byte("other"))
	NoErr(t, err, "EnsureSecret after replace")
	if string(got) != "sealed" {
		t.Fatalf("secret after replace = %q, want %q", got, "sealed")
	}
}

func testEnsureSecretConcurrently(t *testing.T, h *H) {
	const n = 10
	got := make([][]byte, n)
	errs := Parallel(n, func(i int) error {
		var err error
		got[i], err = h.S.EnsureSecret(h.Ctx, "race", []byte(fmt.Sprintf("value-%d", i)))
		return err
	})
	for i := range n {
		NoErr(t, errs[i], "EnsureSecret %d", i)
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("EnsureSecret returned %q and %q for the same name", got[0], got[i])
		}
	}
}

func testPing(t *testing.T, h *H) {
	NoErr(t, h.S.Ping(h.Ctx), "Ping")
}

// purge runs Purge at 'at' and checks it deleted at least min rows, then that a second run
// deletes nothing.
func (h *H) purge(at time.Time, min int64) {
	h.T.Helper()
	n, err := h.S.Purge(h.Ctx, at)
	NoErr(h.T, err, "Purge")
	if n < min {
		h.T.Fatalf("Purge deleted %d rows, want at least %d", n, min)
	}
	n, err = h.S.Purge(h.Ctx, at)
	NoErr(h.T, err, "Purge again")
	if n != 0 {
		h.T.Fatalf("Purge again deleted %d rows, want 0", n)
	}
}

func testPurgeEmpty(t *testing.T, h *H) {
	n, err := h.S.Purge(h.Ctx, h.Now)
	NoErr(t, err, "Purge")
	if n != 0 {
		t.Fatalf("Purge on an empty store = %d", n)
	}
}

// The purge tests write rows that expire at Now+1h (doomed) and Now+3h (kept), purge at Now+2h,
// and check through the ordinary getters (which use the real clock) that exactly the doomed
// ones are gone.
func testPurgeAuthRequests(t *testing.T, h *H) {
	cut := h.Now.Add(2 * time.Hour)
	doomed := h.NewAuthRequest()
	doomed.ExpiresAt = h.Now.Add(time.Hour)
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, doomed), "CreateAuthRequest")
	NoErr(t, h.S.CompleteAuthRequest(h.Ctx, doomed.ID, sso.Completion{Subject: "s", AuthTime: h.Now}), "CompleteAuthRequest")
	code := RandomID()
	NoErr(t, h.S.SaveCode(h.Ctx, doomed.ID, code, h.Now.Add(time.Minute)), "SaveCode")
	kept := h.NewAuthRequest()
	kept.ExpiresAt = h.Now.Add(3 * time.Hour)
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, kept), "CreateAuthRequest")

	h.purge(cut, 1)
	_, err := h.S.AuthRequest(h.Ctx, doomed.ID)
	IsErr(t, err, sso.ErrNotFound, "purged AuthRequest")
	_, err = h.S.AuthRequestByCode(h.Ctx, code)
	IsErr(t, err, sso.ErrNotFound, "code of a purged AuthRequest")
	_, err = h.S.AuthRequest(h.Ctx, kept.ID)
	NoErr(t, err, "kept AuthRequest")
}

func testPurgeTokens(t *testing.T, h *H) {
	cut := h.Now.Add(2 * time.Hour)
	doomed := h.NewAccessFamily()
	doomed.ExpiresAt = h.Now.Add(time.Hour)
	kept := h.NewAccessFamily()
	kept.ExpiresAt = h.Now.Add(3 * time.Hour)
	doomedRT := h.NewRefreshToken()
	doomedRT.ExpiresAt = h.Now.Add(time.Hour)
	keptRT := h.NewRefreshToken()
	keptRT.ExpiresAt = h.Now.Add(3 * time.Hour)
	for _, f := range []*sso.RefreshToken{doomed, kept, doomedRT, keptRT} {
		NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: f}), "IssueTokens")
	}
	// A rotated family is still one row.
	_, err := h.Rotate(doomedRT, h.Now, 0)
	NoErr(t, err, "rotate")
	doomedID, keptID := RandomID(), RandomID()
	NoErr(t, h.S.RevokeAccessToken(h.Ctx, doomedID, h.Now.Add(time.Hour)), "RevokeAccessToken")
	NoErr(t, h.S.RevokeAccessToken(h.Ctx, keptID, h.Now.Add(3*time.Hour)), "RevokeAccessToken")

	h.purge(cut, 3)
	for _, f := range []*sso.RefreshToken{doomed, doomedRT} {
		_, err := h.S.Family(h.Ctx, f.FamilyID)
		IsErr(t, err, sso.ErrNotFound, "purged Family")
	}
	h.MustFamily(kept.FamilyID)
	h.MustFamily(keptRT.FamilyID)
	if r, err := h.S.AccessTokenRevoked(h.Ctx, keptID); err != nil || !r {
		t.Fatalf("a revocation not yet expired was purged: %v %v", r, err)
	}
}

func testPurgeSessions(t *testing.T, h *H) {
	cut := h.Now.Add(2 * time.Hour)
	doomed := h.NewSession("alice")
	doomed.ExpiresAt = h.Now.Add(time.Hour)
	doomed.Clients = []string{"client-1"}
	NoErr(t, h.S.CreateSession(h.Ctx, doomed), "CreateSession")
	ended := h.CreateSession("alice", "client-1")
	NoErr(t, h.S.EndSession(h.Ctx, ended.ID), "EndSession")
	kept := h.NewSession("alice")
	kept.ExpiresAt = h.Now.Add(3 * time.Hour)
	kept.Clients = []string{"client-1"}
	NoErr(t, h.S.CreateSession(h.Ctx, kept), "CreateSession")

	h.purge(cut, 2)
	_, err := h.S.Session(h.Ctx, doomed.ID)
	IsErr(t, err, sso.ErrNotFound, "purged Session")
	got, err := h.S.Session(h.Ctx, kept.ID)
	NoErr(t, err, "kept Session")
	Equal(t, got, kept, "kept Session")
	// The id of a purged session can be reused without inheriting its clients.
	again := h.NewSession("bob")
	again.ID = doomed.ID
	NoErr(t, h.S.CreateSession(h.Ctx, again), "CreateSession with a purged id")
	got, err = h.S.Session(h.Ctx, again.ID)
	NoErr(t, err, "Session")
	Equal(t, got, again, "a new session under a purged id")
}

func testPurgeKeys(t *testing.T, h *H) {
	cut := h.Now.Add(2 * time.Hour)
	doomed := NewKey(h.Now.Add(-47 * time.Hour)) // published until Now+1h

	kept := NewKey(h.Now)
	NoErr(t, h.S.AddSigningKey(h.Ctx, doomed), "AddSigningKey")
	NoErr(t, h.S.AddSigningKey(h.Ctx, kept), "AddSigningKey")
	h.purge(cut, 1)
	l, err := h.S.SigningKeys(h.Ctx)
	NoErr(t, err, "SigningKeys")
	Equal(t, l, []*sso.StoredKey{kept}, "SigningKeys after Purge")
}

// testPurgeEverything checks that Purge far in the future empties the store of expiring rows
// and keeps clients and secrets.
func testPurgeEverything(t *testing.T, h *H) {
	_, code := h.CreateCode()
	h.Grant("alice", "client-1")
	h.CreateSession("alice", "client-1")
	NoErr(t, h.S.AddSigningKey(h.Ctx, NewKey(h.Now)), "AddSigningKey")
	NoErr(t, h.S.CreateClient(h.Ctx, newClient("app", h.Now)), "CreateClient")
	_, err := h.S.EnsureSecret(h.Ctx, "s", []byte("v"))
	NoErr(t, err, "EnsureSecret")

	h.purge(h.Now.Add(365*24*time.Hour), 4)
	_, err = h.S.AuthRequestByCode(h.Ctx, code)
	IsErr(t, err, sso.ErrNotFound, "purged code")
	for _, check := range []func() (int, error){
		func() (int, error) { l, err := h.S.ListRefreshTokens(h.Ctx, "", ""); return len(l), err },
		func() (int, error) { l, err := h.S.Sessions(h.Ctx, ""); return len(l), err },
		func() (int, error) { l, err := h.S.SigningKeys(h.Ctx); return len(l), err },
	} {
		n, err := check()
		NoErr(t, err, "listing after Purge")
		if n != 0 {
			t.Fatalf("a listing after a full Purge has %d rows", n)
		}
	}
	_, err = h.S.Client(h.Ctx, "app")
	NoErr(t, err, "Client after Purge")
	got, err := h.S.EnsureSecret(h.Ctx, "s", []byte("other"))
	NoErr(t, err, "EnsureSecret after Purge")
	if string(got) != "v" {
		t.Fatalf("secret after Purge = %q", got)
	}
}
