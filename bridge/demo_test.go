package bridge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
)

// TestDemoDirectoryLoginMessages signs every demo member in through the real login page over
// the demo AMS database (sqldir, iMIS preset on SQLite): a wrong password always gives the same
// message; with the right password a status failure is explained; the audit log keeps the
// precise reason.
func TestDemoDirectoryLoginMessages(t *testing.T) {
	d, _, err := demo.OpenDirectory(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	e := newEnvDir(t, true, cache.Wrap(d, cache.Options{}))
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	alert := func(body string) string {
		i := strings.Index(body, `role="alert"`)
		if i < 0 {
			return ""
		}
		return body[i : i+strings.Index(body[i:], "</div>")]
	}
	generic := ""
	for _, l := range demo.Logins() {
		t.Run(l.Login, func(t *testing.T) {
			b := e.browser()
			wrong := b.Login(b.Get(web.AuthCodeURL("s")), l.Login, l.Password+"x")
			if wrong.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", wrong.Status)
			}
			beforePassword := l.Outcome == "locked_out" || l.Outcome == "not_approved"
			if generic == "" && !beforePassword {
				generic = alert(wrong.Body)
			}
			right := b.Login(b.Get(web.AuthCodeURL("s")), l.Login, l.Password)
			if beforePassword {
				// Locked out or not approved: the same answer whatever the password (review s19
				// X19-4, review s20 Y-1).
				if alert(wrong.Body) != alert(right.Body) {
					t.Fatalf("a %s account tells a right password from a wrong one: %q, %q", l.Outcome, alert(wrong.Body), alert(right.Body))
				}
			} else if alert(wrong.Body) != generic {
				t.Fatalf("a wrong password reveals something: %q", alert(wrong.Body))
			}
			ev, _ := e.store.AuditEvents(context.Background(), store.AuditFilter{Limit: 1})
			switch l.Outcome {
			case "ok":
				if right.Redirected(t).Get("code") == "" || ev[0].Event != "login.success" {
					t.Fatalf("%s should sign in: %d %q", l.Login, right.Status, alert(right.Body))
				}
			case "bad_credentials", "unsupported_hash":
				// Refused accounts and unverifiable hashes look exactly like a wrong password.
				if alert(right.Body) != generic || ev[0].Detail != l.Outcome {
					t.Fatalf("%s: %q, audit %q", l.Login, alert(right.Body), ev[0].Detail)
				}
			default:
				if right.Location != "" || alert(right.Body) == generic || alert(right.Body) == "" {
					t.Fatalf("%s: status failure not explained: %q", l.Login, alert(right.Body))
				}
				if ev[0].Event != "login.failure" || ev[0].Detail != l.Outcome {
					t.Fatalf("%s: audit %+v, want %s", l.Login, ev[0], l.Outcome)
				}
			}
		})
	}
}
