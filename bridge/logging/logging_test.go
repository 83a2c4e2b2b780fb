package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

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
