package backchannel_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbound"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// unreadable fails every read of the clients in down with a passing error (the store busy),
// counting the reads of each.
type unreadable struct {
	clients
	down  []string
	reads map[string]int
}

func (c *unreadable) Client(ctx context.Context, id string) (*sso.ClientConfig, error) {
	c.reads[id]++
	if slices.Contains(c.down, id) {
		return nil, errors.New("database is locked")
	}
	return c.clients.Client(ctx, id)
}

// TestEndUnreadableRegistration (review s22 X-4): an app whose registration cannot be read at
// any of the end's tries is read again at each (4 reads), and at the last its logout is queued
// anyway, for the Deliverer to read the registration again: one warning names the apps so
// queued. An app with a logout URI is then told; one without (spa) has its event dropped at
// delivery, quietly (nothing to tell: no dead letter). A readable app is read once. Through EndSession and Deactivate.
func TestEndUnreadableRegistration(t *testing.T) {
	for _, via := range []string{"EndSession", "Deactivate"} {
		t.Run(via, func(t *testing.T) {
			db, err := sqlite.Open(t.Context(), sqlite.Memory)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			now := time.Now()
			sess := &sso.Session{ID: "s-1", Subject: "sub-1", AuthTime: now, CreatedAt: now, LastSeen: now,
				ExpiresAt: now.Add(time.Hour), Clients: []string{"web", "spa", "ok"}}
			if err := db.CreateSession(t.Context(), sess); err != nil {
				t.Fatal(err)
			}
			cls := &unreadable{clients: clients{
				"web": {ID: "web", BackchannelLogoutURI: "https://web.example/logout"},
				"spa": {ID: "spa"},
				"ok":  {ID: "ok", BackchannelLogoutURI: "https://ok.example/logout"},
			}, down: []string{"web", "spa"}, reads: map[string]int{}}
			var logged strings.Builder
			woken := 0
			l := &backchannel.Logouts{Store: db, Clients: cls, Wake: func() { woken++ }, Log: slog.New(slog.NewTextHandler(&logged, nil))}
			switch via {
			case "EndSession":
				err = l.EndSession(t.Context(), sess)
			default:
				var ended []*sso.Session
				ended, err = l.Deactivate(t.Context(), &store.Deactivation{Subject: "sub-1", EndSessions: true}, db.Deactivate)
				if len(ended) != 1 {
					t.Errorf("deactivation ended %d sessions, want 1", len(ended))
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Session(t.Context(), "s-1"); err == nil {
				t.Fatal("the session is live after its end")
			}
			if want := map[string]int{"web": 4, "spa": 4, "ok": 1}; !mapsEqual(cls.reads, want) {
				t.Fatalf("registration reads %v, want %v", cls.reads, want)
			}
			evs, err := db.OutboxEvents(t.Context(), store.OutboxFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				got = append(got, e.ClientID)
			}
			slices.Sort(got)
			if want := []string{"ok", "spa", "web"}; !slices.Equal(got, want) || woken != 1 {
				t.Fatalf("queued logouts %v (woken %d), want %v, woken once", got, woken, want)
			}
			out := logged.String()
			if strings.Count(out, "\n") != 1 || !strings.Contains(out, "level=WARN") || !strings.Contains(out, "web") ||
				!strings.Contains(out, "spa") || strings.Contains(out, "ok]") {
				t.Fatalf("log %q, want one warning naming web and spa", out)
			}

			// Delivery reads the registration again: spa has no logout URI, its event (queued
			// unread) has nothing to send, no dead letter (s23, left by O5), skipped by the queue
			// (review s23 X2-2); ok's, queued from
			// its read registration, is a permanent failure once ok has none.
			cls.down = nil
			keys, err := sso.NewKeyManager(t.Context(), memstore.New(), sso.KeyConfig{EncryptionKey: make([]byte, 32)})
			if err != nil {
				t.Fatal(err)
			}
			d := &backchannel.Deliverer{Clients: cls, Keys: keys, Issuer: "https://sso.example.org",
				HTTP: outbox.NewSenders(5*time.Second, outbound.Options{}), Now: time.Now}
			for _, e := range evs {
				var p struct {
					SID string `json:"sid"`
				}
				if err := json.Unmarshal(e.Payload, &p); err != nil || p.SID != "s-1" {
					t.Errorf("event of %s names sid %q (%v), want s-1", e.ClientID, p.SID, err)
				}
				if e.ClientID == "spa" {
					if err := d.Deliver(t.Context(), e); !errors.Is(err, outbox.ErrNothingToSend) || outbox.IsPermanent(err) {
						t.Errorf("delivery of spa's event: %v, want outbox.ErrNothingToSend (queued unread, no logout URI: nothing to tell)", err)
					}
				}
				if e.ClientID == "ok" {
					cls.clients["ok"] = &sso.ClientConfig{ID: "ok"}
					if err := d.Deliver(t.Context(), e); !outbox.IsPermanent(err) {
						t.Errorf("delivery of ok's event after its logout URI went: %v, want a permanent failure", err)
					}
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
