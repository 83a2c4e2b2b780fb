package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ssobridge/ssobridge/sso"
)

// TestWrapUnavailable: failures to reach the database are sso.ErrUnavailable (the token
// endpoint answers 503, pages "try again"); a statement's own errors, and a caller that gave
// up, are not.
func TestWrapUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("failed to connect: %w", refused), true},
		{"broken mid-statement", fmt.Errorf("rotate: %w", io.ErrUnexpectedEOF), true},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"connection exception", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"statement_timeout", &pgconn.PgError{Code: "57014"}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"caller gone", context.Canceled, false},
		{"unique violation", &pgconn.PgError{Code: uniqueViolation}, false},
		{"syntax", &pgconn.PgError{Code: "42601"}, false},
		{"no rows", pgx.ErrNoRows, false},
		{"other", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := wrap("op", tc.err)
			if errors.Is(got, sso.ErrUnavailable) != tc.want {
				t.Fatalf("wrap(%v) = %v; unavailable %v, want %v", tc.err, got, !tc.want, tc.want)
			}
			if !errors.Is(got, tc.err) && !errors.Is(tc.err, pgx.ErrNoRows) {
				t.Fatalf("wrap(%v) lost the cause: %v", tc.err, got)
			}
		})
	}
}
