package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/logging"
)

func TestHandlerAddsRequestFields(t *testing.T) {
	for _, tc := range []struct {
		name     string
		annotate [][2]string // client, subject
		attrs    []any
		want     map[string]string
		absent   []string
	}{
		{"request id only", nil, nil, map[string]string{"request_id": "r1"}, []string{"client_id", "subject"}},
		{"client then subject", [][2]string{{"web", ""}, {"", "sub-1"}}, nil,
			map[string]string{"request_id": "r1", "client_id": "web", "subject": "sub-1"}, nil},
		{"the line's own subject wins", [][2]string{{"web", "sub-1"}}, []any{"subject", "sub-2"},
			map[string]string{"subject": "sub-2", "client_id": "web"}, nil},
		{"a line naming its client keeps it", [][2]string{{"web", ""}}, []any{"client", "other"},
			map[string]string{"client": "other"}, []string{"client_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := logging.New(&buf, logging.FormatJSON, slog.LevelInfo)
			ctx := logging.WithRequest(context.Background(), "r1")
			for _, a := range tc.annotate {
				logging.Annotate(ctx, a[0], a[1])
			}
			log.InfoContext(ctx, "x", tc.attrs...)
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %s (line %s)", k, got[k], v, buf.String())
				}
			}
			for _, k := range tc.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present: %s", k, buf.String())
				}
			}
			if strings.Count(buf.String(), `"subject"`) > 1 {
				t.Errorf("subject twice: %s", buf.String())
			}
		})
	}
}

func TestNoFieldsWithoutRequest(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, logging.FormatText, slog.LevelInfo)
	logging.Annotate(context.Background(), "web", "sub") // no Fields: nothing happens
	log.InfoContext(context.Background(), "x")
	log.With("a", 1).WithGroup("g").Info("y")
	if strings.Contains(buf.String(), "client_id") || strings.Contains(buf.String(), "request_id") {
		t.Fatalf("fields without a request: %s", buf.String())
	}
}

func TestLevelVar(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, logging.FormatText, slog.LevelWarn)
	lv := logging.LevelVar(log.With("k", "v"))
	if lv == nil || lv.Level() != slog.LevelWarn {
		t.Fatalf("level var %v", lv)
	}
	log.Info("hidden")
	lv.Set(slog.LevelDebug)
	log.Debug("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Fatalf("output %q", buf.String())
	}
	if logging.LevelVar(slog.New(slog.DiscardHandler)) != nil {
		t.Fatal("a foreign logger has no level var")
	}
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "WARN": slog.LevelWarn, " error ": slog.LevelError} {
		if l, err := logging.ParseLevel(in); err != nil || l != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, l, err)
		}
	}
	if _, err := logging.ParseLevel("verbose"); err == nil {
		t.Error("ParseLevel(verbose) accepted")
	}
}

// writes records each Write to the underlying writer (one batch each) and signals it.
type writes struct {
	mu      sync.Mutex
	batches []string
	wrote   chan struct{}
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.batches = append(w.batches, string(p))
	w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *writes) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.batches)
}

// TestBuffered: lines are gathered and written in order, in batches: when the next would not
// fit, on Flush and on Close; one longer than the buffer is written alone (after those before
// it); after Close every line is written at once. Nothing is dropped.
func TestBuffered(t *testing.T) {
	w := &writes{wrote: make(chan struct{}, 1)}
	b := logging.NewBuffered(w, 10, time.Hour)
	for _, l := range []string{"a1\n", "b2\n", "c3\n"} { // 9 bytes: fit
		if n, err := b.Write([]byte(l)); n != len(l) || err != nil {
			t.Fatalf("Write: %d %v", n, err)
		}
	}
	if got := w.get(); len(got) != 0 {
		t.Fatalf("written before the buffer filled: %q", got)
	}
	_, _ = b.Write([]byte("d4\n")) // would not fit: the first three go first
	_, _ = b.Write([]byte("a line longer than ten\n"))
	_, _ = b.Write([]byte("e5\n"))
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	_, _ = b.Write([]byte("f6\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_, _ = b.Write([]byte("after close\n"))
	want := []string{"a1\nb2\nc3\n", "d4\n", "a line longer than ten\n", "e5\n", "f6\n", "after close\n"}
	if got := w.get(); !slices.Equal(got, want) {
		t.Fatalf("batches %q, want %q", got, want)
	}
}

// TestBufferedInterval: a line alone in the buffer is written by the timer, without a Flush.
func TestBufferedInterval(t *testing.T) {
	w := &writes{wrote: make(chan struct{}, 1)}
	b := logging.NewBuffered(w, 1<<10, time.Millisecond)
	defer b.Close()
	for round := range 2 { // the timer is armed again by the next line
		_, _ = b.Write([]byte("line\n"))
		<-w.wrote
		if got := w.get(); len(got) != round+1 {
			t.Fatalf("round %d: %q", round, got)
		}
	}
}

// TestBufferedWarningsAtOnce: through New, info lines wait in the buffer, a warning is
// written at once with the lines before it.
func TestBufferedWarningsAtOnce(t *testing.T) {
	w := &writes{wrote: make(chan struct{}, 1)}
	b := logging.NewBuffered(w, 1<<10, time.Hour)
	log := logging.New(b, logging.FormatText, slog.LevelInfo)
	log.Info("first")
	if got := w.get(); len(got) != 0 {
		t.Fatalf("info written at once: %q", got)
	}
	log.With("k", "v").Warn("second")
	got := w.get()
	if len(got) != 1 || !strings.Contains(got[0], "msg=first") || !strings.Contains(got[0], "msg=second") {
		t.Fatalf("batches %q", got)
	}
}

// TestClientGoneLines: a warning or an error whose err is the cancellation of a request whose
// client went away is passed on at debug level; every other failure keeps its level (a real
// failure while the client is gone, a cancellation the handler made itself, a cancelled
// context that is no request's).
func TestClientGoneLines(t *testing.T) {
	canceled := fmt.Errorf("sqlite: audit: %w", context.Canceled)
	for _, tc := range []struct {
		name    string
		request bool // the context is a request's (WithRequest)
		gone    bool // the request's own context is cancelled
		derived bool // a context the handler derived and cancelled itself
		err     error
		level   slog.Level
		want    string // "" when the line is left out
	}{
		{"client gone, cancellation error", true, true, false, canceled, slog.LevelError, ""},
		{"client gone, cancellation warning", true, true, false, canceled, slog.LevelWarn, ""},
		{"client gone, real failure", true, true, false, errors.New("disk full"), slog.LevelError, "ERROR"},
		{"client here, cancellation error", true, false, false, canceled, slog.LevelError, "ERROR"},
		{"handler's own cancellation", true, false, true, canceled, slog.LevelError, "ERROR"},
		{"no request", false, true, false, canceled, slog.LevelError, "ERROR"},
		{"client gone, info", true, true, false, canceled, slog.LevelInfo, "INFO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, at := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
				var buf bytes.Buffer
				log := logging.New(&buf, logging.FormatJSON, at)
				ctx, cancel := context.WithCancel(context.Background())
				if tc.request {
					ctx = logging.WithRequest(ctx, "r1")
				}
				if tc.gone {
					cancel()
				}
				if tc.derived {
					var stop context.CancelFunc
					ctx, stop = context.WithCancel(ctx)
					stop()
				}
				log.Log(ctx, tc.level, "x", "err", tc.err)
				cancel()
				want := tc.want
				if want == "" && at == slog.LevelDebug {
					want = "DEBUG"
				}
				if want == "" {
					if buf.Len() != 0 {
						t.Errorf("at %v: line written: %s", at, buf.String())
					}
					continue
				}
				var got map[string]any
				if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
					t.Fatalf("at %v: %v: %q", at, err, buf.String())
				}
				if got["level"] != want {
					t.Errorf("at %v: level %v, want %s", at, got["level"], want)
				}
			}
		})
	}
}
