package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// One id names one app (store.ErrAppIDTaken): a SAML SP's id is refused to a client and a
// client's to an SP where they are written, in the store's transaction (session 15; start-up
// refused the pair only at the next start, checkPolicyIDs).
func init() {
	samlTests = append(samlTests,
		test{"AppIDs", testAppIDs},
		test{"AppIDRace", testAppIDRace},
	)
}

func (h *H) newSP(entity, id string) *store.SAMLServiceProvider {
	return &store.SAMLServiceProvider{EntityID: entity, ID: id, Settings: []byte(fmt.Sprintf(`{"id":%q}`, id)), Metadata: []byte("<md/>"), CreatedAt: h.Now}
}

func (h *H) newClient(id string) *sso.StoredClient {
	return &sso.StoredClient{ID: id, Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}
}

func isAppIDTaken(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, store.ErrAppIDTaken) || !errors.Is(err, sso.ErrConflict) {
		t.Fatalf("%s: %v, want store.ErrAppIDTaken and sso.ErrConflict", what, err)
	}
}

// testAppIDs: each way an id can be taken, and given back.
func testAppIDs(t *testing.T, h *H) {
	lms := h.newSP("https://lms.example/sp", "lms")
	ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, lms), "CreateSAMLServiceProvider lms")
	ssotest.IsErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, lms), sso.ErrConflict, "CreateSAMLServiceProvider lms again (the same SP)")
	isAppIDTaken(t, h.S.CreateClient(h.Ctx, h.newClient("lms")), "CreateClient with an SP's id")
	if _, err := h.S.Client(h.Ctx, "lms"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("client lms after a refused CreateClient: %v", err)
	}
	isAppIDTaken(t, h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP("https://other.example/sp", "lms")), "CreateSAMLServiceProvider: another SP's id")

	ssotest.NoErr(t, h.S.CreateClient(h.Ctx, h.newClient("portal")), "CreateClient portal")
	isAppIDTaken(t, h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP("https://portal.example/sp", "portal")), "CreateSAMLServiceProvider with a client's id")
	moved := h.newSP(lms.EntityID, "portal") // the registered SP given a client's id
	isAppIDTaken(t, h.S.CreateSAMLServiceProvider(h.Ctx, moved), "CreateSAMLServiceProvider: an SP's entity id again, with a client's id")

	sps, err := h.S.SAMLServiceProviders(h.Ctx)
	ssotest.NoErr(t, err, "SAMLServiceProviders")
	if len(sps) != 1 || sps[0].EntityID != lms.EntityID || sps[0].ID != "lms" {
		t.Fatalf("SAMLServiceProviders = %+v, want lms alone, with its id", sps)
	}

	// Records without an id (written before ids were kept) are not checked against each other.
	ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP("https://x.example/sp", "")), "CreateSAMLServiceProvider without id")
	ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP("https://y.example/sp", "")), "CreateSAMLServiceProvider without id, again")

	// Removed, the id is free again for the other kind.
	ssotest.NoErr(t, h.S.DeleteSAMLServiceProvider(h.Ctx, lms.EntityID), "DeleteSAMLServiceProvider lms")
	ssotest.NoErr(t, h.S.CreateClient(h.Ctx, h.newClient("lms")), "CreateClient lms after the SP is removed")
	ssotest.NoErr(t, h.S.DeleteClient(h.Ctx, "portal"), "DeleteClient portal")
	ssotest.NoErr(t, h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP("https://portal.example/sp", "portal")), "CreateSAMLServiceProvider portal after the client is removed")
}

// testAppIDRace: a client and an SP registered at the same moment with one id (two replicas, or
// the CLI and the admin API): exactly one is stored, the other refused with ErrAppIDTaken.
func testAppIDRace(t *testing.T, h *H) {
	const rounds = 12
	for i := range rounds {
		id := fmt.Sprintf("app%d", i)
		var (
			wg               sync.WaitGroup
			start            = make(chan struct{})
			clientErr, spErr error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			clientErr = h.S.CreateClient(h.Ctx, h.newClient(id))
		}()
		go func() {
			defer wg.Done()
			<-start
			spErr = h.S.CreateSAMLServiceProvider(h.Ctx, h.newSP("https://"+id+".example/sp", id))
		}()
		close(start)
		wg.Wait()
		switch {
		case clientErr == nil && spErr == nil:
			t.Fatalf("round %d: both the client and the SP %q were stored", i, id)
		case clientErr == nil:
			isAppIDTaken(t, spErr, "the SP that lost")
		case spErr == nil:
			isAppIDTaken(t, clientErr, "the client that lost")
		default:
			t.Fatalf("round %d: both refused: client %v; SP %v", i, clientErr, spErr)
		}
		_, cerr := h.S.Client(h.Ctx, id)
		sps, err := h.S.SAMLServiceProviders(h.Ctx)
		ssotest.NoErr(t, err, "SAMLServiceProviders")
		n := 0
		for _, sp := range sps {
			if sp.ID == id {
				n++
			}
		}
		if (cerr == nil) == (n == 1) || n > 1 {
			t.Fatalf("round %d: client stored %v (%v), SPs with the id %d: want exactly one app", i, cerr == nil, cerr, n)
		}
	}
}
