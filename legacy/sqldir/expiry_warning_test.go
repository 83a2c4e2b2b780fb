package sqldir_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestNoPasswordExpiryWarned: the sql connector with its own queries and no password_expiry
// query, no maximum password age set, warns at start-up that passwords never expire, naming
// the fields to set; with the query, or both ages set (0: never, on purpose), it does not, and
// with one set it names the other. Before, only queries.go's comment said so.
func TestNoPasswordExpiryWarned(t *testing.T) {
	zero, ninety := time.Duration(0), 90*24*time.Hour
	for _, tc := range []struct {
		name          string
		query         bool
		members, sysa *time.Duration
		want          string // in the warning; "" none
	}{
		{"no query, no ages", false, nil, nil, `fields="legacy.password_max_age, legacy.password_max_age_sysadmin"`},
		{"no query, members' age", false, &ninety, nil, `fields=legacy.password_max_age_sysadmin`},
		{"no query, both ages", false, &ninety, &zero, ""},
		{"no query, never on purpose", false, &zero, &zero, ""},
		{"the query", true, nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logged := &lockedLog{}
			openGenericWith(t, func(c *sqldir.Config) {
				if !tc.query {
					delete(c.Queries, sqldir.QueryPasswordExpiry)
				}
				c.PasswordMaxAge, c.PasswordMaxAgeSysAdmin = tc.members, tc.sysa
			}, slog.New(slog.NewTextHandler(logged, nil)))
			out := logged.String()
			warned := strings.Contains(out, "passwords never expire")
			if tc.want == "" {
				if warned {
					t.Fatalf("warned: %s", out)
				}
				return
			}
			if !warned || !strings.Contains(out, "level=WARN") || !strings.Contains(out, tc.want) {
				t.Fatalf("log %q, want a warning with %s", out, tc.want)
			}
		})
	}
}
