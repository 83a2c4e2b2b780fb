package admin

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
)

// Wrong admin tokens are bounded per source address (an IPv4 address, an IPv6 /64) and
// one-minute window: the first AuthFailureBudget of a window are answered 401 and audited one
// row each (admin.auth_failure), so the first failures stay visible; past the budget they are
// answered 429 with Retry-After and not written one by one: one admin.auth_throttled row when
// the budget runs out, and one when the window ends saying how many were refused. A request with
// the right token is never refused (the budget bounds the cost of wrong ones, it does not lock
// the administrator out).
const (
	AuthFailureBudget = 10
	authFailureWindow = time.Minute
	// authFailureSources bounds the addresses counted at once; past it, new addresses share
	// one budget (and its rows).
	authFailureSources = 4096
	authFailureOthers  = "other addresses"
)

// authFailures counts wrong-token requests per source address and window. The zero value is
// ready; safe for concurrent use.
type authFailures struct {
	mu      sync.Mutex
	windows map[string]*failWindow
}

type failWindow struct {
	start   time.Time
	n       int    // wrong tokens in the window
	address string // an address of the source (the rows' IP)
}

// ended is a finished window whose source went past the budget: its refusals, to summarise.
type ended struct {
	source, address string
	start, end      time.Time
	refused         int
}

// fail counts one wrong token from address at now: audit (within the budget: one row, 401),
// firstRefused (the budget ran out with this one), wait (until the window ends, when refused),
// and the finished windows of every source that still have refusals to summarise.
func (f *authFailures) fail(address string, now time.Time) (audit, firstRefused bool, wait time.Duration, done []ended) {
	f.mu.Lock()
	defer f.mu.Unlock()
	done = f.sweepLocked(now)
	if f.windows == nil {
		f.windows = map[string]*failWindow{}
	}
	src := throttle.AddressKey(address)
	w := f.windows[src]
	if w == nil && len(f.windows) >= authFailureSources {
		src = authFailureOthers
		w = f.windows[src]
	}
	if w == nil {
		w = &failWindow{start: now, address: address}
		f.windows[src] = w
	}
	w.n++
	switch {
	case w.n <= AuthFailureBudget:
		return true, false, 0, done
	default:
		return false, w.n == AuthFailureBudget+1, w.start.Add(authFailureWindow).Sub(now), done
	}
}

// sweep forgets the finished windows and returns those with refusals.
func (f *authFailures) sweep(now time.Time) []ended {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sweepLocked(now)
}

func (f *authFailures) sweepLocked(now time.Time) []ended {
	var out []ended
	for src, w := range f.windows {
		end := w.start.Add(authFailureWindow)
		if now.Before(end) {
			continue
		}
		delete(f.windows, src)
		if w.n > AuthFailureBudget {
			out = append(out, ended{source: src, address: w.address, start: w.start, end: end, refused: w.n - AuthFailureBudget})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// wrongToken records a wrong admin token from ip for the request r describes (method and
// path): whether to answer 401 (within the budget) or 429 after wait.
func (a *Service) wrongToken(ctx context.Context, ip, what string) (refused bool, wait time.Duration) {
	now := a.now()
	audit, first, wait, done := a.failures.fail(ip, now)
	a.summarise(ctx, done)
	switch {
	case audit:
		a.Audit(ctx, &store.AuditEvent{Time: now, Event: "admin.auth_failure", IP: ip, Detail: what})
	case first:
		a.Audit(ctx, &store.AuditEvent{Time: now, Event: "admin.auth_throttled", IP: ip,
			Detail: fmt.Sprintf("more than %d wrong admin tokens in a minute from this address: the rest of the minute's are refused (429) and counted in one row when it ends", AuthFailureBudget)})
	}
	return !audit, wait
}

// SweepAuthFailures writes the summary rows of the finished windows of wrong admin tokens
// (the server calls it every minute, so the last window of an attack is summarised too).
func (a *Service) SweepAuthFailures(ctx context.Context) {
	a.summarise(ctx, a.failures.sweep(a.now()))
}

func (a *Service) summarise(ctx context.Context, done []ended) {
	for _, e := range done {
		detail := fmt.Sprintf("%d wrong admin tokens refused (429) and not written one by one, from %s to %s",
			e.refused, e.start.UTC().Format(time.RFC3339), e.end.UTC().Format(time.RFC3339))
		if e.source == authFailureOthers {
			detail += " (from addresses past the ones counted one by one)"
		}
		a.Audit(ctx, &store.AuditEvent{Time: a.now(), Event: "admin.auth_throttled", IP: e.address, Detail: detail})
	}
}
