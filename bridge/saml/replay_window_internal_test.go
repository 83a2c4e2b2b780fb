package saml

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
)

// failingMarkers is messageIDs whose marker keys fail while fail is set.
type failingMarkers struct {
	*messageIDs
	fail bool
}

func (f *failingMarkers) UseSAMLMessageID(ctx context.Context, key string, expires time.Time) error {
	if f.fail && strings.HasPrefix(key, "ssobridge ") {
		f.calls = append(f.calls, key)
		return errors.New("store down")
	}
	return f.messageIDs.UseSAMLMessageID(ctx, key, expires)
}

// TestUnqualifiedWindow (S5, session 24; 9fdc0d7 looked every LogoutRequest id up under the key of
// versions before session 22 for an hour after every start-up, one store call per request for
// ever): the look-up is made within the window of the first start that keeps the marker, by
// every process started within it, and by no process started after it, which then makes no
// store call for it per request (the calls are counted: two reads at its first request, then
// one call per request, the id's own).
func TestUnqualifiedWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	st := &messageIDs{now: t0, until: map[string]time.Time{}}
	fs := &failingMarkers{messageIDs: st}
	const sp = "https://lms"
	n := 0
	// consume sends a valid LogoutRequest with a new id to h at at, and returns the store calls
	// it made.
	consume := func(h *Handler, at time.Duration) []string {
		t.Helper()
		st.now, st.calls = t0.Add(at), nil
		n++
		id := "id-" + string(rune('a'+n))
		r := replayCache{ctx: t.Context(), store: fs, logout: &crewjam.IdpLogoutRequest{Request: crewjam.LogoutRequest{ID: id, Issuer: &crewjam.Issuer{Value: sp}}},
			unqualified: func() bool { return h.unqualifiedLogoutKeys(t.Context()) }}
		if err := r.Consume(logoutReplayPrefix+id, st.now.Add(4*time.Minute)); err != nil {
			t.Fatalf("consume %s at %v: %v", id, at, err)
		}
		out := slices.Clone(st.calls)
		for i, k := range out { // the id's keys, named without the id
			out[i] = strings.Replace(strings.Replace(k, sp+" "+id, "<sp id>", 1), id, "<id>", 1)
		}
		return out
	}
	start := func() *Handler {
		return &Handler{Store: fs, Now: func() time.Time { return st.now }, Logger: slog.New(slog.DiscardHandler)}
	}
	const marker, window = qualifiedLogoutKeysMarker, unqualifiedWindowKey
	old, own := logoutReplayPrefix+"<id>", logoutReplayPrefix+"<sp id>"
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: store calls %q, want %q", what, got, want)
		}
	}

	// The first start: no marker; it writes the window, then the marker, and looks up for an hour.
	first := start()
	check("first start, first request", consume(first, 0), marker, window, marker, old, own)
	if got := st.until[marker]; got.Before(t0.Add(50 * 365 * 24 * time.Hour)) {
		t.Errorf("the marker is kept until %v, want for good", got)
	}
	check("first start, within the window", consume(first, unqualifiedKeysWindow-time.Second), old, own)
	check("first start, after the window", consume(first, unqualifiedKeysWindow), own)
	check("first start, later", consume(first, 3*unqualifiedKeysWindow), own)

	// A replica (or restart) within the window: it finds the window live and looks up for an
	// hour from its start.
	st.calls = nil
	rolling := start()
	check("a start within the window, first request", consume(rolling, 10*time.Minute), marker, window, old, own)
	check("a start within the window, its hour", consume(rolling, 10*time.Minute+unqualifiedKeysWindow-time.Second), old, own)
	check("a start within the window, after its hour", consume(rolling, 10*time.Minute+unqualifiedKeysWindow), own)

	// A start after the window: two reads at its first request, then nothing per request.
	later := start()
	check("a start after the window, first request", consume(later, 2*unqualifiedKeysWindow), marker, window, own)
	for i := range 3 {
		check("a start after the window, next requests", consume(later, 2*unqualifiedKeysWindow+time.Duration(i)*time.Minute), own)
	}

	// A store that fails the reads: the id is looked up (the safe side) and the read is tried
	// again at the next request.
	fs.fail = true
	failing := start()
	check("a start whose read fails", consume(failing, 3*unqualifiedKeysWindow), marker, old, own)
	fs.fail = false
	check("the next request reads again", consume(failing, 3*unqualifiedKeysWindow+time.Minute), marker, window, own)
	check("then nothing", consume(failing, 3*unqualifiedKeysWindow+2*time.Minute), own)
}

// TestUnqualifiedWindowRace: two processes starting at once on a store without the marker both
// look up; one that reads after the other wrote the marker finds the window (written first).
func TestUnqualifiedWindowRace(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	st := &messageIDs{now: t0, until: map[string]time.Time{}}
	until, err := readUnqualifiedWindow(t.Context(), st, t0)
	if err != nil || !until.Equal(t0.Add(unqualifiedKeysWindow)) {
		t.Fatalf("first: %v %v", until, err)
	}
	// The other wrote its window only, then this one reads: no marker yet, so it opens one too
	// (its own write of the window is refused, the marker's is not).
	st2 := &messageIDs{now: t0, until: map[string]time.Time{unqualifiedWindowKey: t0.Add(unqualifiedKeysWindow)}}
	if until, err := readUnqualifiedWindow(t.Context(), st2, t0.Add(time.Second)); err != nil || !until.After(t0) {
		t.Errorf("racing the window's write: %v %v, want a window", until, err)
	}
	// After both: the marker and the window are there, and a third finds the window.
	if until, err := readUnqualifiedWindow(t.Context(), st, t0.Add(time.Minute)); err != nil || !until.Equal(t0.Add(time.Minute+unqualifiedKeysWindow)) {
		t.Errorf("after the first: %v %v, want the window from now", until, err)
	}
}
