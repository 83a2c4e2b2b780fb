package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Formats of the log lines (log.format).
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Attribute keys the Handler adds.
const (
	KeyRequestID = "request_id"
	KeyClientID  = "client_id"
	KeySubject   = "subject"
)

// New builds a logger writing format lines (FormatText or FormatJSON) to w from level on; its
// level can be changed later through LevelVar. When w is a Buffered, a warning or an error is
// written at once (with the lines before it).
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	lv := new(slog.LevelVar)
	lv.Set(level)
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if format == FormatJSON {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	hd := &Handler{next: h, level: lv}
	if b, ok := w.(*Buffered); ok {
		hd.flush = b.Flush
	}
	return slog.New(hd)
}

// ParseLevel reads a level name (debug, info, warn, error; any case).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
	}
	return l, nil
}

// LevelVar is the run-time level of a logger New built (nil for any other logger).
func LevelVar(l *slog.Logger) *slog.LevelVar {
	if l == nil {
		return nil
	}
	if h, ok := l.Handler().(*Handler); ok {
		return h.level
	}
	return nil
}

// Fields are what one request's log lines carry once known. Safe for concurrent use.
type Fields struct {
	// req is the request's context as the server gave it (before any handler derived its own
	// from it): cancelled when the client goes away (net/http, on the connection's close).
	req                          context.Context
	mu                           sync.Mutex
	requestID, clientID, subject string
}

type fieldsKey struct{}

// fieldsCtx is a context holding Fields: one allocation per request for both.
type fieldsCtx struct {
	context.Context
	f Fields
}

func (c *fieldsCtx) Value(key any) any {
	if _, ok := key.(fieldsKey); ok {
		return &c.f
	}
	return c.Context.Value(key)
}

// WithRequest returns ctx with fresh Fields for the request requestID.
func WithRequest(ctx context.Context, requestID string) context.Context {
	c := &fieldsCtx{Context: ctx}
	c.f.requestID, c.f.req = requestID, ctx
	return c
}

// ClientGone reports whether ctx belongs to a request (WithRequest) whose client went away
// before it was answered: the request's own context, as the server gave it, is cancelled.
// A handler's own deadline or cancellation of a context derived from it does not count.
func ClientGone(ctx context.Context) bool {
	f := fieldsOf(ctx)
	return f != nil && errors.Is(f.req.Err(), context.Canceled)
}

// cancelledByClient reports whether r is a failure caused by its request's client going away:
// logged with ctx of a request whose client is gone, and its "err" attribute is (or wraps)
// context.Canceled.
func cancelledByClient(ctx context.Context, r slog.Record) bool {
	if ctx == nil || !ClientGone(ctx) {
		return false
	}
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "err" {
			return true
		}
		if err, ok := a.Value.Any().(error); ok && errors.Is(err, context.Canceled) {
			found = true
		}
		return false
	})
	return found
}

// fieldsOf is ctx's Fields, or nil.
func fieldsOf(ctx context.Context) *Fields {
	f, _ := ctx.Value(fieldsKey{}).(*Fields)
	return f
}

// Annotate records the request's client id and member subject (each when not empty) for the
// lines logged with ctx from now on. Without Fields in ctx it does nothing.
func Annotate(ctx context.Context, clientID, subject string) {
	f := fieldsOf(ctx)
	if f == nil || (clientID == "" && subject == "") {
		return
	}
	f.mu.Lock()
	if clientID != "" {
		f.clientID = clientID
	}
	if subject != "" {
		f.subject = subject
	}
	f.mu.Unlock()
}

// Of returns the request id, client id and subject known for ctx's request.
func Of(ctx context.Context) (requestID, clientID, subject string) {
	f := fieldsOf(ctx)
	if f == nil {
		return "", "", ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requestID, f.clientID, f.subject
}

// Handler adds the request's Fields (request_id, client_id, subject) to each record that does
// not carry that key itself.
type Handler struct {
	next  slog.Handler
	level *slog.LevelVar
	// flush, when set, writes out the buffered lines after a warning or an error.
	flush func() error
}

// Enabled reports whether the level is logged.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle adds the fields and passes the record on. A warning or an error that only says a
// request's client went away (its "err" is context.Canceled and the request's context is
// cancelled) is not the bridge's failure: it is passed on at debug level (so dropped at the
// usual levels), and the request's access line says what happened (status 499).
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && cancelledByClient(ctx, r) {
		r.Level = slog.LevelDebug
		if !h.next.Enabled(ctx, r.Level) {
			return nil
		}
	}
	if ctx != nil {
		if f := fieldsOf(ctx); f != nil {
			f.mu.Lock()
			rid, cid, sub := f.requestID, f.clientID, f.subject
			f.mu.Unlock()
			var has [3]bool
			r.Attrs(func(a slog.Attr) bool {
				switch a.Key {
				case KeyRequestID:
					has[0] = true
				case KeyClientID, "client":
					has[1] = true
				case KeySubject:
					has[2] = true
				}
				return true
			})
			if rid != "" && !has[0] {
				r.AddAttrs(slog.String(KeyRequestID, rid))
			}
			if cid != "" && !has[1] {
				r.AddAttrs(slog.String(KeyClientID, cid))
			}
			if sub != "" && !has[2] {
				r.AddAttrs(slog.String(KeySubject, sub))
			}
		}
	}
	err := h.next.Handle(ctx, r)
	if h.flush != nil && r.Level >= slog.LevelWarn {
		if ferr := h.flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// WithAttrs keeps the fields and the level.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), level: h.level, flush: h.flush}
}

// WithGroup keeps the fields and the level.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), level: h.level, flush: h.flush}
}

// Outage says a retried job's outage once: a job that keeps retrying what it depends on (the
// store, the AMS) logs the first failure of an outage as a warning, the failures after it at
// debug level, and the outage's end as one information line with how many attempts failed and
// for how long. The zero value is ready; safe for concurrent use.
type Outage struct {
	mu       sync.Mutex
	since    time.Time // the first failure of the current outage; zero: none
	failures int
}

// Fail records a failure at now: msg with err as a warning when it starts an outage, at debug
// level otherwise.
func (o *Outage) Fail(ctx context.Context, log *slog.Logger, now time.Time, msg string, err error) {
	o.mu.Lock()
	first := o.since.IsZero()
	if first {
		o.since = now
	}
	o.failures++
	o.mu.Unlock()
	level := slog.LevelDebug
	if first {
		level = slog.LevelWarn
	}
	log.Log(ctx, level, msg, "err", err)
}

// OK records a success at now: msg as an information line when it ends an outage (with the
// failures and their duration), nothing otherwise.
func (o *Outage) OK(ctx context.Context, log *slog.Logger, now time.Time, msg string) {
	o.mu.Lock()
	since, n := o.since, o.failures
	o.since, o.failures = time.Time{}, 0
	o.mu.Unlock()
	if !since.IsZero() {
		log.InfoContext(ctx, msg, "failures", n, "for", now.Sub(since))
	}
}
