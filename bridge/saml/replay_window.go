package saml

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// The look-up of LogoutRequest ids under the key versions before session 22 recorded them
// under (the library's own, logoutReplayPrefix + id; dc23729 qualified it by the SP) matters
// only while such keys can be live: after the upgrade from such a version, for as long as its
// replicas go on recording them and a few minutes after. It is one store call per SP
// LogoutRequest, so it is made only within unqualifiedKeysWindow of the first start of a
// version that keeps the marker below, and never after:
//
//	no marker (the first start, or one racing it) --write the window's key (until now +
//	    unqualifiedKeysWindow), then the marker (for good)--> looks up for the window
//	marker, window's key live (another replica started the window) --> looks up for
//	    unqualifiedKeysWindow from now (so at most twice the window after the first start)
//	marker, window's key expired or purged --> never looks up (until the process restarts:
//	    then the same two look-ups again, nothing per request)
//
// The window's key is written before the marker, so a replica that finds the marker finds the
// window too while it is open. Both are message-id keys (store.SAMLStore.UseSAMLMessageID),
// read by a look-up (lookUp) that records nothing live; no id's key starts with "ssobridge ".
// Each process reads them once, at its first valid LogoutRequest (not at start-up: a process
// that is sent none reads nothing); a failed read looks the id up (the safe side) and is tried
// again at the next request.
// `ssobridge store copy` copies both keys (table saml_message_ids, with their expiries), so a
// start on a copied store does not open the window again
// (TestUnqualifiedWindowSurvivesStoreCopy).
const (
	// unqualifiedKeysWindow: such a key lives until its request stops being accepted (the
	// library's logoutRequestAcceptableUntil: at most MaxIssueDelay + MaxClockSkew after it
	// was used, 4.5 minutes), so after a one-instance upgrade none is live a few minutes after
	// the new version starts; the hour covers a rolling upgrade whose replicas of the old
	// version go on recording such keys for up to about 55 minutes after the first new one
	// started.
	unqualifiedKeysWindow = time.Hour
	// qualifiedLogoutKeysMarker is recorded for good (markerLifetime) by the first process
	// that reads it: from then on, a start finds that the upgrade happened before it.
	qualifiedLogoutKeysMarker = "ssobridge qualified-logout-request-ids"
	// unqualifiedWindowKey is recorded by that process until its window ends.
	unqualifiedWindowKey = "ssobridge unqualified-logout-request-ids-window"
	// markerLifetime keeps the marker past any installation's life (the stores keep times up
	// to the year 2262), so that Purge never deletes it.
	markerLifetime = 100 * 365 * 24 * time.Hour
)

// unqualifiedWindow is what a process read of the window (Handler.unqualifiedLogoutKeys).
type unqualifiedWindow struct {
	mu    sync.Mutex
	read  bool      // the markers were read (then until is known)
	until time.Time // zero: no window
}

// unqualifiedLogoutKeys reports whether a valid LogoutRequest's id is to be looked up under the
// key versions before session 22 recorded it under too: within the window of the first start of
// a version that keeps the marker (readUnqualifiedWindow, read once per process).
func (h *Handler) unqualifiedLogoutKeys(ctx context.Context) bool {
	w := &h.unqualified
	w.mu.Lock()
	defer w.mu.Unlock()
	now := h.Now()
	if !w.read {
		until, err := readUnqualifiedWindow(ctx, h.Store, now)
		if err != nil {
			if h.Logger != nil {
				h.Logger.WarnContext(ctx, "saml: reading whether LogoutRequest ids of versions before session 22 may still be live failed; this one is looked up as such, the read is tried again at the next", "err", err)
			}
			return true
		}
		w.read, w.until = true, until
	}
	return now.Before(w.until)
}

// readUnqualifiedWindow reads (and at the first start, writes) the markers: until when the
// look-up is made, zero for never.
func readUnqualifiedWindow(ctx context.Context, st Store, now time.Time) (time.Time, error) {
	err := st.UseSAMLMessageID(ctx, qualifiedLogoutKeysMarker, lookUp)
	switch {
	case errors.Is(err, sso.ErrConflict): // a start before this one: its window, if still open
		switch err := st.UseSAMLMessageID(ctx, unqualifiedWindowKey, lookUp); {
		case errors.Is(err, sso.ErrConflict):
			return now.Add(unqualifiedKeysWindow), nil
		case err != nil:
			return time.Time{}, fmt.Errorf("saml: read the window of LogoutRequest ids before session 22: %w", err)
		}
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("saml: read the marker of LogoutRequest ids per SP: %w", err)
	}
	until := now.Add(unqualifiedKeysWindow)
	// A replica racing this one may have written either first: its window stands.
	if err := st.UseSAMLMessageID(ctx, unqualifiedWindowKey, until); err != nil && !errors.Is(err, sso.ErrConflict) {
		return time.Time{}, fmt.Errorf("saml: open the window of LogoutRequest ids before session 22: %w", err)
	}
	if err := st.UseSAMLMessageID(ctx, qualifiedLogoutKeysMarker, now.Add(markerLifetime)); err != nil && !errors.Is(err, sso.ErrConflict) {
		return time.Time{}, fmt.Errorf("saml: write the marker of LogoutRequest ids per SP: %w", err)
	}
	return until, nil
}
