package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// holdGate takes every place of g until the test ends.
func holdGate(t *testing.T, g *fifoGate, n int) {
	t.Helper()
	for range n {
		if err := g.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for range n {
			g.release()
		}
	})
}

// deadlockGuard is a context for a call that must not wait for a gate the test holds: if it
// did, the call would fail with the context's error here instead of hanging the test.
func deadlockGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newTestRequest(now time.Time) *sso.AuthRequest {
	return &sso.AuthRequest{ID: ssotest.RandomID(), ClientID: "client-a", RedirectURI: "https://app.example.org/cb",
		State: "state", ResponseType: "code", Scopes: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// TestReadsOnFreeWriter: a short read runs on the write connection when nobody holds it, so it
// needs no read-pool connection: with every read-pool place taken it still answers. Before,
// every read waited for the read pool.
func TestReadsOnFreeWriter(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "r.db"))
	now := time.Now()
	r := newTestRequest(now)
	if err := s.CreateAuthRequest(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	f := newFamily(t, s, "h0", now)
	coded := newTestRequest(now)
	coded.Browser = "b"
	in := signIn(coded, "b")
	if err := s.CreateAuthRequest(t.Context(), coded); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteSignIn(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	holdGate(t, s.rgate, defaultReadConns())
	ctx := deadlockGuard(t)
	// The writes above ran on the write connection's driver statements, which are prepared
	// with the reads': what shows the reads below ran there is that they answer with every
	// read-pool place taken.
	got, err := s.AuthRequest(ctx, r.ID)
	if err != nil || got.ID != r.ID {
		t.Fatalf("AuthRequest with the read pool taken = %v, %v; want the request from the write connection", got, err)
	}
	if s.raw.authRequestStmt == nil {
		t.Fatal("AuthRequest did not read through the write connection's driver statements (readOnWriter)")
	}
	if _, err := s.FactorPresence(ctx, "nobody"); err != nil {
		t.Fatalf("FactorPresence with the read pool taken: %v", err)
	}
	if s.raw.factorPresenceStmt == nil {
		t.Fatal("FactorPresence did not read through the write connection's driver statements (readOnWriter)")
	}
	if got, err := s.Family(ctx, f.FamilyID); err != nil || got.Hash != f.Hash {
		t.Fatalf("Family with the read pool taken = %v, %v; want the family from the write connection", got, err)
	}
	if s.raw.familyStmt == nil {
		t.Fatal("Family did not read through the write connection's driver statements (readOnWriter)")
	}
	reads0 := s.rawReads.Load()
	if got, live, err := s.CodeRequest(ctx, coded.ID); err != nil || got.CodeHash != in.CodeHash || !live {
		t.Fatalf("CodeRequest with the read pool taken = %v, %v, %v; want the request and its live session from the write connection", got, live, err)
	}
	if n := s.rawReads.Load() - reads0; n != 1 {
		t.Fatalf("CodeRequest: %d reads on the write connection's driver statements (readOnWriter), want 1", n)
	}
}

// TestRawReadsAsPool: a request and a member's factors read on the write connection's driver
// connection (readOnWriter, valuesRow's scan) are what the read pool's database/sql statements
// read: every column of a request, with and without max_age (NULL), pending, completed and with
// its code; every factor, present and not.
func TestRawReadsAsPool(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "r.db"))
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	maxAge := 90 * time.Second
	full := newTestRequest(now)
	full.Nonce, full.ResponseMode, full.CodeChallenge, full.CodeChallengeMethod = "n", "query", "cc", "S256"
	full.Prompt, full.MaxAge, full.LoginHint, full.UILocales = []string{"login", "consent"}, &maxAge, "alice", []string{"fr", "en"}
	full.HintSubject, full.Browser, full.ACRValues = "hint", "browser", []string{"urn:mfa"}
	full.Scopes = []string{"openid", "profile", "roles"}
	plain := newTestRequest(now)
	coded := newTestRequest(now)
	for _, r := range []*sso.AuthRequest{full, plain, coded} {
		if err := s.CreateAuthRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CompleteAuthRequest(ctx, coded.ID, sso.Completion{Subject: "alice", AuthTime: now, AMR: []string{"pwd", "otp"}, SessionID: "sid"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCode(ctx, coded.ID, "code-hash", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	onPool := func(read func()) {
		t.Helper()
		if err := s.wgate.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.wgate.release()
		read()
	}
	for _, r := range []*sso.AuthRequest{full, plain, coded} {
		raw, err := s.AuthRequest(ctx, r.ID)
		if err != nil || s.raw.authRequestStmt == nil {
			t.Fatalf("AuthRequest(%s) on the writer: %v (driver statement prepared: %v)", r.ID, err, s.raw.authRequestStmt != nil)
		}
		var pool *sso.AuthRequest
		onPool(func() { pool, err = s.AuthRequest(ctx, r.ID) })
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(raw, pool) {
			t.Errorf("request %s\non the writer %+v\non the pool   %+v", r.ID, raw, pool)
		}
	}
	if _, err := s.AuthRequest(ctx, "unknown"); !errors.Is(err, sso.ErrNotFound) {
		t.Errorf("an unknown request on the writer: %v, want ErrNotFound", err)
	}
	// The code grant's read, with a live session, without, and with an ended one.
	withSession := newTestRequest(now)
	withSession.Browser = "b"
	in := signIn(withSession, "b")
	if err := s.CreateAuthRequest(ctx, withSession); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteSignIn(ctx, in); err != nil {
		t.Fatal(err)
	}
	byCode := func(wantLive bool) {
		t.Helper()
		for _, c := range []struct {
			hash string
			want string
		}{{"code-hash", coded.ID}, {in.CodeHash, withSession.ID}} {
			raw, rawLive, err := s.CodeRequest(ctx, c.want)
			if err != nil || raw.CodeHash != c.hash {
				t.Fatalf("CodeRequest(%s) on the writer: %+v, %v", c.want, raw, err)
			}
			var pool *sso.AuthRequest
			var poolLive bool
			onPool(func() { pool, poolLive, err = s.CodeRequest(ctx, c.want) })
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(raw, pool) || rawLive != poolLive {
				t.Errorf("request of code %s\non the writer %v %+v\non the pool   %v %+v", c.hash, rawLive, raw, poolLive, pool)
			}
			if c.want == withSession.ID && rawLive != wantLive {
				t.Errorf("session live: %v, want %v", rawLive, wantLive)
			}
		}
		if _, _, err := s.CodeRequest(ctx, "no-such-request"); !errors.Is(err, sso.ErrNotFound) {
			t.Errorf("an unknown request on the writer: %v, want ErrNotFound", err)
		}
	}
	byCode(true)
	if err := s.EndSession(ctx, in.Session.ID); err != nil {
		t.Fatal(err)
	}
	byCode(false)
	if err := s.AddWebAuthnCredential(ctx, &store.WebAuthnCredential{ID: []byte("cred"), Subject: "bob", Name: "key", Data: []byte("{}"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"nobody", "bob"} {
		raw, err := s.FactorPresence(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		var pool store.FactorPresence
		onPool(func() { pool, err = s.FactorPresence(ctx, sub) })
		if err != nil || raw != pool {
			t.Errorf("FactorPresence(%s): on the writer %+v, on the pool %+v, %v", sub, raw, pool, err)
		}
	}
	if p, _ := s.FactorPresence(ctx, "bob"); !p.Passkeys {
		t.Errorf("bob's passkey not found: %+v", p)
	}
}

// TestValuesRowScan: the raw reads' scan converts as database/sql's does for the types they
// use, and refuses what database/sql would refuse or convert loosely.
func TestValuesRowScan(t *testing.T) {
	var (
		s  string
		i  int
		i6 int64
		b  bool
		n  sql.NullInt64
	)
	ok := valuesRow{"x", int64(7), int64(-3), int64(1), nil}
	if err := ok.Scan(&s, &i, &i6, &b, &n); err != nil || s != "x" || i != 7 || i6 != -3 || !b || n.Valid {
		t.Fatalf("scan = %q %d %d %v %+v, %v", s, i, i6, b, n, err)
	}
	if err := (valuesRow{int64(0), int64(5)}).Scan(&b, &n); err != nil || b || n != (sql.NullInt64{Int64: 5, Valid: true}) {
		t.Fatalf("scan = %v %+v, %v", b, n, err)
	}
	for _, c := range []struct {
		v    any
		dest any
	}{
		{int64(2), &b}, {"1", &b}, {nil, &b}, {nil, &s}, {nil, &i}, {"7", &i}, {[]byte("x"), &s}, {"5", &n}, {1.5, &n},
	} {
		if err := (valuesRow{c.v}).Scan(c.dest); err == nil {
			t.Errorf("%#v scanned into %T without an error", c.v, c.dest)
		}
	}
}

// TestReadsNotBehindWriter: while the write connection is held (a long write), a read goes to
// the read pool instead of waiting for it.
func TestReadsNotBehindWriter(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "r.db"))
	now := time.Now()
	r := newTestRequest(now)
	if err := s.CreateAuthRequest(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	f := newFamily(t, s, "h0", now)
	holdGate(t, s.wgate, 1)
	ctx := deadlockGuard(t)
	if got, err := s.AuthRequest(ctx, r.ID); err != nil || got.ID != r.ID {
		t.Fatalf("AuthRequest with the writer held = %v, %v", got, err)
	}
	if _, err := s.FactorPresence(ctx, "nobody"); err != nil {
		t.Fatalf("FactorPresence with the writer held: %v", err)
	}
	if got, err := s.Family(ctx, f.FamilyID); err != nil || got.Hash != f.Hash || ctx.Err() != nil {
		t.Fatalf("Family with the writer held = %v, %v (waited for the writer: %v)", got, err, ctx.Err())
	}
}

// TestReadsSeeEveryCommit: a read sees every commit that finished before it began, on either
// connection and whichever connection or process committed it: the write connection's page
// cache, kept warm across its own commits, is dropped when another connection of another Store
// on the same file (another process) commits.
func TestReadsSeeEveryCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	a, b := openTest(t, path), openTest(t, path)
	ctx := t.Context()
	now := time.Now()
	for _, route := range []string{"writer", "pool"} {
		t.Run(route, func(t *testing.T) {
			// route holds a's write gate for the pool, which sends a read there.
			route := func() (release func()) {
				t.Helper()
				if route == "pool" {
					if err := a.wgate.acquire(ctx); err != nil {
						t.Fatal(err)
					}
					return a.wgate.release
				} else if !a.wgate.tryAcquire() {
					t.Fatal("write gate busy")
				}
				a.wgate.release()
				return func() {}
			}
			read := func(id string) *sso.AuthRequest {
				t.Helper()
				defer route()()
				got, err := a.AuthRequest(deadlockGuard(t), id)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			family := func(id string) *sso.RefreshToken {
				t.Helper()
				defer route()()
				got, err := a.Family(deadlockGuard(t), id)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			for i, writer := range []*Store{a, b, a, b} {
				r := newTestRequest(now)
				if err := writer.CreateAuthRequest(ctx, r); err != nil {
					t.Fatal(err)
				}
				if got := read(r.ID); got.Done {
					t.Fatalf("%d: new request read as done", i)
				}
				// Warm a's write connection on the row, then change it from the other Store.
				read(r.ID)
				other := b
				if writer == b {
					other = a
				}
				if err := other.CompleteAuthRequest(ctx, r.ID, sso.Completion{Subject: "alice", AuthTime: now,
					AMR: []string{"pwd"}, SessionID: "sid"}); err != nil {
					t.Fatal(err)
				}
				if got := read(r.ID); !got.Done || got.Subject != "alice" {
					t.Fatalf("%d: read after the completion committed = done %v subject %q; want the completed request", i, got.Done, got.Subject)
				}
				// The same for a family (Family reads on the write connection's driver
				// connection: readOnWriter), rotated by the other Store.
				f := newFamily(t, writer, "h0", now)
				if got := family(f.FamilyID); got.Generation != 0 {
					t.Fatalf("%d: new family read at generation %d", i, got.Generation)
				}
				if err := other.IssueTokens(ctx, rotation(f, 0, "h0", "h1", now)); err != nil {
					t.Fatal(err)
				}
				if got := family(f.FamilyID); got.Generation != 1 || got.Hash != "h1" {
					t.Fatalf("%d: family read after its rotation committed = generation %d hash %q; want 1, h1", i, got.Generation, got.Hash)
				}
			}
		})
	}
}

// TestFIFOGateTryAcquire: tryAcquire takes a free place and never waits; it fails while the
// place is held or anyone waits for it, so reads trying the write connection cannot keep a
// queued write from it.
func TestFIFOGateTryAcquire(t *testing.T) {
	g := newFIFOGate(1)
	if !g.tryAcquire() {
		t.Fatal("tryAcquire on a free gate failed")
	}
	if g.tryAcquire() {
		t.Fatal("tryAcquire on a held gate succeeded")
	}
	got := make(chan error, 1)
	go func() { got <- g.acquire(context.Background()) }()
	waitWaiters(t, g, 1)
	g.release() // handed to the waiter, not freed
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if g.tryAcquire() {
		t.Fatal("tryAcquire succeeded while the waiter holds the place")
	}
	g.release()
	if !g.tryAcquire() {
		t.Fatal("tryAcquire after the last release failed")
	}
	g.release()
}

// walCheckpointSeq reads the checkpoint sequence number of the WAL file's header, which SQLite
// increments each time a write starts the WAL over from its beginning.
func walCheckpointSeq(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hdr [32]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(hdr[12:16])
}

// TestWALStartsOverUnderSustainedWrites: while writes never stop, the checkpoints still start
// the WAL over (finishCheckpoint), so it stays about one checkpoint interval long. Before, a
// commit nearly always landed while the passive checkpoint ran, and the WAL only started over
// when the write connection's auto-checkpoint (20000 pages) ran inside a commit.
func TestWALStartsOverUnderSustainedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	s := openTest(t, path, WithCheckpointInterval(20*time.Millisecond))
	ctx := t.Context()
	write := func(i int) {
		if _, err := s.EnsureSecret(ctx, fmt.Sprintf("k%d", i), make([]byte, 3000)); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	seq := walCheckpointSeq(t, path)
	// Three pages or so a write, well below the auto-checkpoint's 20000.
	for i := 1; i < 4000; i++ {
		write(i)
		if i%100 == 0 {
			if _, err := s.FactorPresence(ctx, "nobody"); err != nil { // readers too
				t.Fatal(err)
			}
		}
	}
	// About 12000 pages: a start-over every 1000 or so; before, none, or one by chance.
	if n := walCheckpointSeq(t, path) - seq; n < 4 {
		t.Fatalf("the WAL started over %d times during 4000 writes; want one every checkpoint tick that found %d pages or more", n, walRestartFrames)
	}
}

// TestNoDriverStatementsAfterCloseRaw (end-of-session review s12 RV1): once Close has closed the
// write connection's driver statements (closeRaw), a family read arriving before the databases
// close does not prepare them again (a connection closed with statements open stays open with
// its file): it reads on the read pool instead, and gets the family.
func TestNoDriverStatementsAfterCloseRaw(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "r.db"))
	f := newFamily(t, s, "h0", time.Now())
	if err := s.closeRaw(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Family(deadlockGuard(t), f.FamilyID)
	if err != nil || got.Hash != f.Hash {
		t.Fatalf("Family after closeRaw = %v, %v; want the family from the read pool", got, err)
	}
	if s.raw.dc != nil || s.raw.familyStmt != nil {
		t.Fatal("Family prepared the driver statements again after closeRaw")
	}
}
