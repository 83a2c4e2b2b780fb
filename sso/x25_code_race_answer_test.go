package sso_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// x8RaceStore runs a one-shot action just before a code's grant write (IssueTokens with
// ConsumeCodeHash): what another request does between the exchange's read and its write.
type x8RaceStore struct {
	*memstore.Store
	before *atomic.Pointer[func()]
}

func (s x8RaceStore) IssueTokens(ctx context.Context, in sso.Issue) error {
	if in.ConsumeCodeHash != "" {
		if f := s.before.Swap(nil); f != nil {
			(*f)()
		}
	}
	return s.Store.IssueTokens(ctx, in)
}

// Review s25 X-8 (Info): a code whose grant write loses a race after a good read (exchanged on
// another replica meanwhile, its session ended meanwhile) was answered "invalid code" where its
// request came from the codeCache (cachedCodeRefused, now codeWriteRefused) but with storage.issue's own words
// ("code already used", "the sign-in session of this code has ended") where it was read from
// the store. The same race now reads the same on both: status, error and description, as the
// read's refusals ("invalid code"). Fails without the fix: the uncached presentation's
// description differs in both cases.
func TestX25CodeLostRaceAnswersAlike(t *testing.T) {
	type outcome struct {
		status    int
		err, desc string
	}
	for _, tc := range []struct {
		name string
		race func(t *testing.T, c *harness, code, verifier, sid string)
	}{
		{"exchanged on another replica meanwhile", func(t *testing.T, c *harness, code, verifier, _ string) {
			if status, body := c.exchange("web", code, verifier, webRedirect); status != http.StatusOK {
				t.Errorf("the other replica's exchange: %d %v", status, body)
			}
		}},
		{"session ended meanwhile", func(t *testing.T, c *harness, _, _, sid string) {
			if err := c.store.EndSession(context.Background(), sid); err != nil {
				t.Error(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			present := func(cached bool) outcome {
				before := new(atomic.Pointer[func()])
				wrap := func(m *memstore.Store) sso.Store { return x8RaceStore{m, before} }
				a := newHarnessWith(t, wrap)
				b, c := newHarnessOn(t, a.store, wrap), a.replica()
				code, verifier, sid := a.committedCode("alice", "openid", "offline_access")
				at := b
				if cached {
					at = a
				}
				race := func() { tc.race(t, c, code, verifier, sid) }
				before.Store(&race)
				status, body := at.exchange("web", code, verifier, webRedirect)
				if before.Load() != nil {
					t.Fatal("the exchange made no code write; the race was not run")
				}
				o := outcome{status: status}
				o.err, _ = body["error"].(string)
				o.desc, _ = body["error_description"].(string)
				return o
			}
			fromCache, fromStore := present(true), present(false)
			if fromCache != fromStore || fromCache.status != http.StatusBadRequest || fromCache.err != "invalid_grant" {
				t.Fatalf("the same lost race, presented where the code was committed: %+v; on another replica: %+v (want the same invalid_grant)",
					fromCache, fromStore)
			}
			t.Logf("%+v", fromCache)
		})
	}
}
