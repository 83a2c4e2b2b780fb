package sqlite

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// loginWrites is one password sign-in's store writes as the login flow makes them: the request
// created at /authorize already bound to the browser (the login form is served there), completed
// with its session, audit row and code by the form post, and its code exchanged for a new token
// family.
func loginWrites(t testing.TB, s *Store, now time.Time, step func(string)) {
	ctx := t.Context()
	if step == nil {
		step = func(string) {}
	}
	ar := &sso.AuthRequest{ID: sso.TimeOrderedToken(time.Now()), ClientID: "client-a", RedirectURI: "https://app.example/cb",
		State: "state-" + ssotest.RandomID()[:8], Nonce: ssotest.RandomID()[:16], Scopes: []string{"openid", "profile"},
		ResponseType: "code", CodeChallenge: ssotest.RandomID()[:43], CodeChallengeMethod: "S256",
		CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
	browser := sso.HashToken("browser:" + ssotest.RandomID())
	ar.Browser = browser
	if err := s.CreateAuthRequest(ctx, ar); err != nil {
		t.Fatal(err)
	}
	step("create auth request")
	sub := "subject-" + ssotest.RandomID()[:12]
	raw := sso.TimeOrderedToken(time.Now()) // as bridge/web/session.NewID keys a new session
	sid := raw[:16] + sso.HashToken(raw)
	code := sso.RandomToken()
	in := &store.SignIn{
		Session: &sso.Session{ID: sid, Subject: sub, AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now,
			LastSeen: now, ExpiresAt: now.Add(12 * time.Hour)},
		Audit:     &store.AuditEvent{Time: now, Event: "login.success", Subject: sub, Login: "member", ClientID: "client-a", IP: "192.0.2.1", Detail: "pwd"},
		RequestID: ar.ID, RequestClient: "client-a",
		Completion: sso.Completion{Subject: sub, AuthTime: now, AMR: []string{"pwd"}, SessionID: sid, Browser: browser},
		CodeHash:   sso.HashToken(code), CodeExpires: time.Now().Add(time.Minute), // now may be long past (valgrind)
	}
	if err := s.CompleteSignIn(ctx, in); err != nil {
		t.Fatal(err)
	}
	step("complete sign-in")
	f := benchFamily(now)
	f.FamilyID, f.Subject, f.SessionID = ar.ID, sub, sid
	if err := s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: in.CodeHash, ConsumeCodeRequest: in.RequestID, Family: f}); err != nil {
		t.Fatal(err)
	}
	step("issue tokens")
}

// maxFramesPerLogin bounds TestWALFramesPerLogin's figure: 27.2 with schema 15 (a rowid table
// plus a text-key index per table, expiry indexes, a code-hash index holding every pending
// request, AUTOINCREMENT and four indexes on audit_log), 19.3-19.6 with schema 16 and keys in
// time order, 21.6-21.8 with schema 28 (resources), 20.1 with schema 30 (no index of code
// hashes: about 1.7-2 pages fewer), 21.95-22.5 with schema 33 (auth_requests_unexchanged: one
// page when the code is issued, one when it is exchanged). A new index on a table a sign-in
// writes costs about one more page per sign-in.
const maxFramesPerLogin = 23

// TestWALFramesPerLogin counts the WAL frames (pages written) of each of a sign-in's write
// transactions, by b-tree, on a database already holding 10,000 sign-ins (run with -v to see
// them), and fails when a sign-in writes more than maxFramesPerLogin pages.
func TestWALFramesPerLogin(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	path := filepath.Join(t.TempDir(), "login.db")
	s := openTest(t, path, WithCheckpointInterval(time.Hour))
	ctx := t.Context()
	now := time.Now()
	for range 10000 {
		loginWrites(t, s, now, nil)
	}
	var pageSize int64
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	wal := path + "-wal"
	size := func() int64 {
		fi, err := os.Stat(wal)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	type span struct {
		name     string
		from, to int64
	}
	var spans []span
	const n = 200
	for range n {
		last := size()
		loginWrites(t, s, now, func(name string) {
			cur := size()
			spans = append(spans, span{name, last, cur})
			last = cur
		})
	}
	owner := pageOwners(t, s)
	b, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	frame := 24 + pageSize
	total := 0
	byStep := map[string]map[string]int{}
	var order []string
	for _, sp := range spans {
		m := byStep[sp.name]
		if m == nil {
			m = map[string]int{}
			byStep[sp.name] = m
			order = append(order, sp.name)
		}
		from := max(sp.from, 32)
		for off := from; off+frame <= sp.to && off+frame <= int64(len(b)); off += frame {
			pg := int64(binary.BigEndian.Uint32(b[off:]))
			name := owner[pg]
			if name == "" {
				name = fmt.Sprintf("page%d?", pg)
				if pg > 1 {
					name = "?"
				}
			}
			m[name]++
			total++
		}
	}
	for _, st := range order {
		var parts []string
		sum := 0
		for k, v := range byStep[st] {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(v)/n))
			sum += v
		}
		sort.Strings(parts)
		if testing.Verbose() {
			t.Logf("%-20s %.2f frames: %s", st, float64(sum)/n, strings.Join(parts, ", "))
		}
	}
	t.Logf("page size %d: %.2f WAL frames per sign-in", pageSize, float64(total)/n)
	if got := float64(total) / n; got > maxFramesPerLogin {
		t.Errorf("a sign-in writes %.2f pages, more than %d", got, maxFramesPerLogin)
	}
}

// pageOwners maps page numbers to the b-tree that holds them (the dbstat virtual table).
func pageOwners(t *testing.T, s *Store) map[int64]string {
	owner := map[int64]string{}
	rows, err := s.w.QueryContext(t.Context(), `SELECT name, pageno FROM dbstat`)
	if err != nil {
		t.Fatalf("dbstat: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var pg int64
		if err := rows.Scan(&name, &pg); err != nil {
			t.Fatal(err)
		}
		owner[pg] = name
	}
	return owner
}

// BenchmarkLoginWrites is one password sign-in's store writes (loginWrites) on a file database
// already holding 5,000 sign-ins: the store's part of BenchmarkFullLogin's writes, without the
// HTTP, the templates and the signature.
func BenchmarkLoginWrites(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "login.db"))
	now := time.Now()
	for range 5000 {
		loginWrites(b, s, now, nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	defer reportCPU(b, cpu)
	for range b.N {
		timedLoginWrites(b, s, now)
	}
}

// timedLoginWrites is loginWrites under its own name, for instruction counts of the timed loop
// alone (valgrind --tool=callgrind --toggle-collect='*timedLoginWrites*').
//
//go:noinline
func timedLoginWrites(b *testing.B, s *Store, now time.Time) { loginWrites(b, s, now, nil) }
