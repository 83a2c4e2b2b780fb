package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// LogLevelName is a level as the configuration spells it (debug, info, warn, error).
func LogLevelName(l slog.Level) string { return strings.ToLower(l.String()) }

// SetLogLevel changes the process's log level at run time and audits the change.
func (a *Service) SetLogLevel(ctx context.Context, actor, level string) (string, error) {
	if a.LogLevel == nil {
		return "", fmt.Errorf("%w: the log level cannot be changed in this process", ErrNotFound)
	}
	var l slog.Level
	switch level {
	case "debug", "info", "warn", "error":
		_ = l.UnmarshalText([]byte(level))
	default:
		return "", fmt.Errorf("%w: level %q must be debug, info, warn or error", ErrInvalid, level)
	}
	before := LogLevelName(a.LogLevel.Level())
	a.LogLevel.Set(l)
	a.Audit(ctx, &store.AuditEvent{Event: "admin.log_level", Detail: actor + ": " + before + " -> " + level})
	a.log().InfoContext(ctx, "log level changed", "from", before, "to", level, "by", actor)
	return level, nil
}

// CurrentLogLevel says the process's log level; the read is audited (admin.log_level_show), as the
// other reads of the administration are.
func (a *Service) CurrentLogLevel(ctx context.Context, actor string) (string, error) {
	if a.LogLevel == nil {
		return "", fmt.Errorf("%w: the log level cannot be changed in this process", ErrNotFound)
	}
	level := LogLevelName(a.LogLevel.Level())
	a.record(ctx, actor, "admin.log_level_show", "", "", level)
	return level, nil
}

func (a *Service) httpLogLevel(w http.ResponseWriter, r *http.Request) {
	level, err := a.CurrentLogLevel(r.Context(), actor(r))
	a.answer(w, r, http.StatusOK, map[string]string{"level": level}, err)
}

func (a *Service) httpSetLogLevel(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Level string `json:"level"`
	}
	err := decodeBody(r, &body)
	level := ""
	if err == nil {
		level, err = a.SetLogLevel(r.Context(), actor(r), strings.ToLower(strings.TrimSpace(body.Level)))
	}
	a.answer(w, r, http.StatusOK, map[string]string{"level": level}, err)
}
